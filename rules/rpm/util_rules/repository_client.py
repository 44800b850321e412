"""What a client of an rpm_repository is given: a `.repo` file for dnf and tdnf, and the key.

The repository serves both (its `.repo` points `gpgkey` at the key next to the metadata). An
image that carries the repository (`repos`) gets a `.repo` whose `gpgkey` is the key installed in
the image: a system trusts the key it was built with, not one fetched from the server whose
signatures it is to check.
"""
from __future__ import annotations

# Where RPM-based distributions keep the keys their .repo files name.
IMAGE_KEY_DIR = "/etc/pki/rpm-gpg"
IMAGE_REPOS_DIR = "/etc/yum.repos.d"


def key_name(repo_id: str) -> str:
    return f"RPM-GPG-KEY-{repo_id}"


def repo_file(repo_id: str, base_url: str, signed: bool, gpgkey: str | None = None) -> str:
    """The .repo file dnf and tdnf read from /etc/yum.repos.d. `gpgkey` defaults to the key
    served next to the repository."""
    lines = [f"[{repo_id}]", f"name={repo_id}", f"baseurl={base_url}", "enabled=1"]
    if signed:
        key_url = gpgkey or f"{base_url}/{key_name(repo_id)}"
        lines += ["gpgcheck=1", "repo_gpgcheck=1", f"gpgkey={key_url}"]
    else:
        lines += ["gpgcheck=0", "repo_gpgcheck=0"]
    return "\n".join(lines) + "\n"


def image_key_path(repo_id: str) -> str:
    """Where an image that carries the repository holds its key."""
    return f"{IMAGE_KEY_DIR}/{key_name(repo_id)}"


def image_repo_file(repo_id: str, base_url: str, signed: bool) -> tuple[str, str]:
    """The path of the `.repo` file in an image, and its text: `gpgkey` is the key in the image."""
    return f"{IMAGE_REPOS_DIR}/{repo_id}.repo", repo_file(repo_id, base_url, signed, f"file://{image_key_path(repo_id)}")
