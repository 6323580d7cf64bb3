import sys


def main(argv=None):
    print("microgpt-tui: the app is not built yet; `python -m engine` trains headless.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
