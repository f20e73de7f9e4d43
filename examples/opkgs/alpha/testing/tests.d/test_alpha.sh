#!/bin/sh
# Example opkg test: alpha installs nothing to check, so it always passes.
exit 0
