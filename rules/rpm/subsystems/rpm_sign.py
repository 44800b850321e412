"""The `[rpm-sign]` options: the GnuPG key that signs RPMs and repository metadata.

Only the key's id and where its GnuPG home is are options: the key itself stays in that home,
outside the repository and the cache. Pants reads the options from the environment too
(PANTS_RPM_SIGN_KEY, PANTS_RPM_SIGN_GNUPG_HOME), which is how CI hands in a secret key.
"""
from __future__ import annotations

from pants.option.option_types import StrOption
from pants.option.subsystem import Subsystem
from pants.util.strutil import help_text


class RpmSignSubsystem(Subsystem):
    options_scope = "rpm-sign"
    help = help_text(
        """
        The GnuPG key that signs the RPMs and the `repomd.xml` of `rpm_repository` targets.
        Without a key, repositories are made unsigned (their `.repo` says `gpgcheck=0`).
        """
    )

    key = StrOption(
        default=None,
        help=help_text(
            """
            The signing key: its fingerprint or key id (anything `gpg --list-keys` accepts
            that names exactly one key). Its secret key must be in `gnupg_home`, without a
            passphrase. The key's fingerprint, not the key, is part of the cache key. Also
            `PANTS_RPM_SIGN_KEY`.
            """
        ),
    )
    gnupg_home = StrOption(
        default=None,
        help=help_text(
            """
            The GnuPG home directory holding the key. Default: `~/.gnupg` of the user running
            Pants. It is read, never written:
            signing runs in a copy. Also `PANTS_RPM_SIGN_GNUPG_HOME`.
            """
        ),
    )
