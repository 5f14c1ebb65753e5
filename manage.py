#!/usr/bin/env python
import os
import sys


def main():
    from bespin.devenv import load_env_file

    load_env_file()  # .env.dev, written by `make dev`, when there is one
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bespin.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
