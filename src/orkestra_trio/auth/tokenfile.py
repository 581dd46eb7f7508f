"""kube-apiserver's static token file (``--token-auth-file``).

The format is CSV, one user a line: ``token,user,uid[,"group1,group2"]``. As
in kube, a line needs at least three columns, an empty token is skipped, and a
later line with the same token wins. Mistakes are reported as one line naming
the file and line.
"""

from __future__ import annotations

import csv
import io
import os

from orkestra_trio.auth.authenticator import StaticToken, UserInfo, group_list


class TokenFileError(ValueError):
    """A token file that cannot be used: ``path:line: what is wrong``."""


def parse_token_file(text: str, *, source: str = "token file") -> StaticToken:
    tokens = StaticToken()
    reader = csv.reader(io.StringIO(text), skipinitialspace=True)
    try:
        for record in reader:
            line = reader.line_num
            if not record or (len(record) == 1 and not record[0].strip()):
                continue  # a blank line
            if len(record) < 3:
                raise TokenFileError(
                    f"{source}:{line}: must have at least 3 columns (token, user name, user uid), "
                    f"found {len(record)}"
                )
            token, name, uid = record[0].strip(), record[1].strip(), record[2].strip()
            if not token:
                continue
            if not name:
                raise TokenFileError(f"{source}:{line}: the user name (column 2) is empty")
            groups = group_list(record[3]) if len(record) >= 4 else ()
            tokens.add(token, UserInfo(name, uid=uid, groups=tuple(groups)))
    except csv.Error as exc:
        raise TokenFileError(f"{source}:{reader.line_num}: {exc}") from None
    if not tokens.users:
        raise TokenFileError(f'{source}: no tokens (expected lines like token,user,uid,"g1,g2")')
    return tokens


def load_token_file(path: str | os.PathLike[str]) -> StaticToken:
    try:
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
    except OSError as exc:
        raise TokenFileError(f"{os.fspath(path)}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise TokenFileError(f"{os.fspath(path)}: not UTF-8 text") from None
    return parse_token_file(text, source=os.fspath(path))
