#!/bin/sh
# Prints the example team's greeting.
exec cat /usr/share/hello-team/greeting
