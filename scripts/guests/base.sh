# shellcheck shell=bash
# The debootstrap base every guest starts from (sourced by scripts/build-guest.sh
# with $root set): minbase plus what a VMware server guest has: a kernel, grub,
# initramfs-tools, open-vm-tools, ifupdown with DHCP, systemd as init.
# Cached as a tarball by the hash of this file.
mirror=$(guest_mirror)
say "debootstrap bookworm from $mirror"
debootstrap --variant=minbase \
  --include=systemd-sysv,udev,kmod,linux-image-amd64,grub-pc,initramfs-tools,open-vm-tools,ifupdown,isc-dhcp-client,iproute2,zstd \
  bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
