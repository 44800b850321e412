#!/bin/sh
# Prints the flags every `rpm -i` in a build root takes (sourced by the scripts that install).
#
# --force-debian: Debian's rpm refuses to install into a root that also has dpkg without it.
# --nodeps: a seed made of another distribution's packages (a Debian seed) supplies shared
#   libraries that its rpm database does not list (libc.so.6()(64bit), ...), so the automatic
#   Requires of installed RPMs cannot be checked. BuildRequires still are: rpmbuild checks them
#   against the database without --nodeps.
flags="--nodeps"
if rpm --help 2>/dev/null | grep -q -- --force-debian; then flags="$flags --force-debian"; fi
echo "$flags"
