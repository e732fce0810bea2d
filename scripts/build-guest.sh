#!/usr/bin/env bash
# Builds real Debian 12 guests as VMware guest folders (a VMX as ESXi writes
# it, VMDKs made by qemu-img), for tests, the demo share and benchmarks.
# Everything that can happens on the host (debootstrap, chroot, sfdisk,
# mkfs.ext4 -d, mkfs.vfat + mtools, grub-mkimage); the libguestfs appliance
# only for what must run inside a kernel (LVM, XFS: rhel-like).
#
#   scripts/build-guest.sh [VARIANT...]     (default: debian12 debian12-split debian12-strict)
#
# prints, one line per family asked for, the cache folder holding VARIANT/VARIANT.vmx
# (the last line: the last variant's). Variants, and what they are and are not:
#   debian12, debian12-split, debian12-strict   (one family, one folder; see scripts/guests/debian12.sh)
#       Debian 12 as a Debian admin installs it on VMware: BIOS, MBR, ext4,
#       initramfs-tools, ifupdown on ens192 (vmxnet3, PCI slot 192).
#   multi-nic   the same Debian shape with three NICs as ESXi lays them out
#       (vmxnet3 192, e1000e 224, vmxnet3 256), ifupdown, nftables naming them.
#   rhel-like   Debian 12 packages arranged in RHEL's shape: dracut (host-only,
#       no virtio), LVM (VG rhel: root on XFS, swap), /boot on /dev/sda1,
#       NetworkManager keyfiles, grub root=/dev/mapper/rhel-root rd.lvm.lv=...
#       It is NOT RHEL: no rpm, no SELinux, no grub2-mkconfig/BLS entries,
#       Debian's file paths (initrd.img-KVER, /boot/grub), Debian's dracut 059.
#   uefi        Debian 12 on UEFI as the Debian installer leaves it on VMware:
#       GPT, ESP with \EFI\debian\{shimx64,grubx64,mmx64}.efi (Debian's signed
#       chain), no \EFI\BOOT fallback (the boot entry lives in NVRAM, which we
#       do not ship), netplan + systemd-networkd; a second VMX, uefi-sb.vmx,
#       with Secure Boot on. Not Ubuntu, though netplan makes it look like one.
# The three-NIC variants all run ferry-nic-report.service, which prints one
# `ferry-nic: ensNNN mac=.. addr=..` line per expected NIC on ttyS0 before the
# login prompt (scripts/guests/nics.sh).
#
# The debootstrap base is built once and cached as a tarball (by the hash of
# scripts/guests/base.sh); each family is cached by the hash of its own recipe
# (scripts/guests/lib.sh + base.sh [+ nics.sh] + FAMILY.sh), so changing one does not
# rebuild the others. Families not yet built are built in parallel, each under
# its own flock: parallel callers wait for one build instead of racing.
# Cache: $FERRY_GUEST_CACHE (default ~/.cache/ferry/guests). Needs root.
set -euo pipefail

here=$(dirname "$(readlink -f "$0")")/guests
cache_root=${FERRY_GUEST_CACHE:-${HOME:-/root}/.cache/ferry/guests}
family=""
# shellcheck source=guests/lib.sh
. "$here/lib.sh"

family_of() {
  case "$1" in
    debian12 | debian12-split | debian12-strict) echo debian12 ;;
    multi-nic | rhel-like | uefi) echo "$1" ;;
    *) say "unknown variant '$1' (debian12, debian12-split, debian12-strict, multi-nic, rhel-like, uefi)"; return 1 ;;
  esac
}
recipe_files() { # the files whose content decides a family's build
  case "$1" in
    base) echo "$here/base.sh" ;;
    debian12) echo "$here/lib.sh $here/base.sh $here/debian12.sh" ;;
    *) echo "$here/lib.sh $here/base.sh $here/nics.sh $here/$1.sh" ;;
  esac
}
recipe_hash() {
  # shellcheck disable=SC2046
  cat $(recipe_files "$1") | sha256sum | cut -c1-12
}
folder_of() { echo "$cache_root/$1-$(recipe_hash "$1")"; }

[ $# -gt 0 ] || set -- debian12 debian12-split debian12-strict
families=()
for v in "$@"; do
  f=$(family_of "$v")
  [[ " ${families[*]} " == *" $f "* ]] || families+=("$f")
done

todo=()
for f in "${families[@]}"; do [ -f "$(folder_of "$f")/READY" ] || todo+=("$f"); done
if [ ${#todo[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { say "needs root (debootstrap and chroot)"; exit 1; }
  for cmd in debootstrap qemu-img sfdisk mkfs.ext4 flock zstd; do
    command -v "$cmd" >/dev/null || { say "missing $cmd (run scripts/setup.sh)"; exit 1; }
  done
  mkdir -p "$cache_root"
fi

# Older recipes of a family go once unused for a day: another checkout on
# this machine may be testing with its own recipe right now. Only folders
# named like a recipe: the cache may have been pointed somewhere shared.
prune() { # $1 family, $2 current hash
  find "$cache_root" -mindepth 1 -maxdepth 1 -type d -regextype posix-extended \
    \( -regex ".*/$1-[0-9a-f]{12}" -o -regex ".*/\.work-$1-[0-9a-f]{12}" -o -regex '.*/[0-9a-f]{12}' -o -regex '.*/\.work-[0-9a-f]{12}' \) \
    ! -name "$1-$2" ! -name ".work-$1-$2" -mmin +1440 -exec rm -rf {} +
}

# Runs a recipe in a fresh work folder under the family's lock; the result
# is renamed into place with READY last. $1 family, $2 recipe body (a function).
build_locked() {
  local f=$1 body=$2 hash out
  hash=$(recipe_hash "$f")
  out="$cache_root/$f-$hash"
  exec {lock}>"$cache_root/.lock-$f"
  flock "$lock" # one build per family at a time; whoever waited finds it done
  if [ -f "$out/READY" ]; then exec {lock}>&-; return 0; fi
  prune "$f" "$hash"
  work="$cache_root/.work-$f-$hash"
  cleanup_work
  mkdir -p "$work"
  trap cleanup_work EXIT
  root="$work/root"
  stage="$work/stage"
  mkdir -p "$root" "$stage"
  family=$f
  "$body"
  echo "$f-$hash $(recipe_files "$f" | tr ' ' '\n' | xargs -n1 basename | tr '\n' ' ')" >"$stage/RECIPE"
  touch "$stage/READY"
  rm -rf "$out"
  mv "$stage" "$out"
  cleanup_work
  trap - EXIT
  exec {lock}>&-
  say "done: $out ($((SECONDS - started)) s)"
}
cleanup_work() {
  [ -n "${work:-}" ] || return 0
  # a failed recipe may leave /proc mounted in its chroot
  { grep -o " $work/[^ ]*" /proc/mounts 2>/dev/null || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
  rm -rf "$work"
}

base_body() {
  # shellcheck source=guests/base.sh
  . "$here/base.sh"
  say "packing the base"
  tar -C "$root" --numeric-owner --xattrs --xattrs-include='*' -cf - . | zstd -q -T0 -3 -o "$stage/base.tar.zst"
}
family_body() {
  unpack_base "$root" "$(folder_of base)/base.tar.zst"
  kver=$(basename "$(ls -d "$root"/lib/modules/* | head -1)")
  say "kernel $kver"
  # shellcheck source=/dev/null
  . "$here/$family.sh"
  echo "$kver" >"$stage/KERNEL"
}

started=$SECONDS
if [ ${#todo[@]} -gt 0 ]; then
  [ -f "$(folder_of base)/READY" ] || (build_locked base base_body)
  pids=()
  for f in "${todo[@]}"; do
    (build_locked "$f" family_body) &
    pids+=($!)
  done
  failed=0
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  [ $failed -eq 0 ] || { say "a guest build failed (see above)"; exit 1; }
fi
for v in "$@"; do folder_of "$(family_of "$v")"; done | awk '!seen[$0]++'
