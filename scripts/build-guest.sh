#!/usr/bin/env bash
# Builds real Debian 12 guests as VMware guest folders, for tests, the demo
# share and benchmarks. Everything heavy happens on the host (debootstrap,
# chroot, mkfs.ext4 -d, grub-mkimage); no appliance, no loop device.
#
#   scripts/build-guest.sh            prints the cache folder holding:
#     debian12/        debian12.vmx + monolithicSparse VMDK (pvscsi, vmxnet3)
#     debian12-split/  twoGbMaxExtentSparse system disk + a data disk on scsi1
#     debian12-strict/ initramfs with only vmw_pvscsi (MODULES=list), grub root=/dev/sda1
#
# Like many real VMware guests, all three name /dev/sda1 in /etc/fstab and
# configure the network on ens192 (vmxnet3 in PCI slot 192).
# Cached in $FERRY_GUEST_CACHE (default ~/.cache/ferry/guests), keyed by a
# hash of this file: a changed recipe builds anew. Needs root (debootstrap).
set -euo pipefail

self=$(readlink -f "$0")
recipe=$(sha256sum "$self" | cut -c1-12)
cache_root=${FERRY_GUEST_CACHE:-${HOME:-/root}/.cache/ferry/guests}
out="$cache_root/$recipe"
say() { printf '[%6.1f] build-guest: %s\n' "$SECONDS" "$*" >&2; }

if [ -f "$out/READY" ]; then
  echo "$out"
  exit 0
fi
[ "$(id -u)" -eq 0 ] || { say "needs root (debootstrap and chroot)"; exit 1; }
for cmd in debootstrap qemu-img sfdisk mkfs.ext4 flock; do
  command -v "$cmd" >/dev/null || { say "missing $cmd (run scripts/setup.sh)"; exit 1; }
done

mkdir -p "$cache_root"
exec 9>"$cache_root/.lock"
flock 9 # one build at a time; whoever waited finds it done
if [ -f "$out/READY" ]; then
  echo "$out"
  exit 0
fi
# Older recipes go (each is about 1.5 GB), once unused for a day: another
# checkout on this machine may be testing with its own recipe right now. Only
# folders named like a recipe: the cache may have been pointed somewhere shared.
find "$cache_root" -mindepth 1 -maxdepth 1 -type d -regextype posix-extended \( -regex '.*/[0-9a-f]{12}' -o -regex '.*/\.work-[0-9a-f]{12}' \) ! -name "$recipe" ! -name ".work-$recipe" -mmin +1440 -exec rm -rf {} +

work="$cache_root/.work-$recipe"
rm -rf "$work"
mkdir -p "$work"
root="$work/root"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

# The mirror this machine already uses (CI reaches Debian's packages only through it).
mirror=$(grep -rhoE '^(URIs:|deb)\s+https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | awk '{print $2}' | head -1 || true)
mirror=${mirror:-http://deb.debian.org/debian}

say "debootstrap bookworm from $mirror"
# minbase plus what a VMware server guest has: a kernel, grub, initramfs-tools,
# open-vm-tools, ifupdown with DHCP, systemd as init.
debootstrap --variant=minbase \
  --include=systemd-sysv,udev,kmod,linux-image-amd64,grub-pc,initramfs-tools,open-vm-tools,ifupdown,isc-dhcp-client,iproute2,zstd \
  bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; exit 1; }

kver=$(basename "$(ls -d "$root"/lib/modules/* | head -1)")
say "kernel $kver"

# --- configuration shared by every variant ---------------------------------
echo debian12 >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tdebian12\n' >"$root/etc/hosts"
echo 'root:ferry' | chroot "$root" chpasswd # a known password for looking around in a test guest
cat >"$root/etc/network/interfaces" <<'EOF'
# The loopback network interface
auto lo
iface lo inet loopback

# The primary network interface (vmxnet3 in PCI slot 192)
allow-hotplug ens192
iface ens192 inet dhcp
EOF
cat >"$root/etc/default/grub" <<'EOF'
GRUB_DEFAULT=0
GRUB_TIMEOUT=1
GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200n8"
GRUB_TERMINAL="console serial"
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
EOF
# Debian's grub-pc postinst keeps the core image's modules here; grub-install would copy them.
mkdir -p "$root/boot/grub/i386-pc"
cp "$root"/usr/lib/grub/i386-pc/*.mod "$root"/usr/lib/grub/i386-pc/*.lst "$root/boot/grub/i386-pc/"
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/*

uuid_root=7c3b6a2e-5d0f-4e1a-9b7c-0f1e2d3c4b5a
uuid_data=2f6d8c1e-3a4b-4c5d-8e9f-a0b1c2d3e4f5

# grub.cfg as grub-mkconfig would write it, by hand: grub-probe cannot see a device in a chroot.
write_grub_cfg() { # $1 root= argument
  cat >"$root/boot/grub/grub.cfg" <<EOF
serial --unit=0 --speed=115200
terminal_input console serial
terminal_output console serial
set default=0
set timeout=1
menuentry 'Debian GNU/Linux' {
	insmod part_msdos
	insmod ext2
	search --no-floppy --fs-uuid --set=root $uuid_root
	linux /boot/vmlinuz-$kver root=$1 ro console=tty0 console=ttyS0,115200n8
	initrd /boot/initrd.img-$kver
}
EOF
}

# A partitioned disk made on the host: one MBR partition from 1 MiB, ext4 filled from a folder.
make_disk() { # $1 raw file, $2 size in MiB, $3 folder, $4 uuid, $5 label
  rm -f "$1"
  truncate -s "$2M" "$1"
  printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q "$1"
  mkfs.ext4 -q -F -E offset=1048576 -d "$3" -U "$4" -L "$5" "$1" "$(($2 - 1))M"
}

# grub-install without a device: the core image goes right after the MBR,
# boot.img's first 440 bytes (code only; the partition table stays) into sector 0.
install_grub() { # $1 raw file
  chroot "$root" grub-mkimage -O i386-pc -o /tmp/core.img -p '(hd0,msdos1)/boot/grub' biosdisk part_msdos ext2 search_fs_uuid
  dd if="$root/usr/lib/grub/i386-pc/boot.img" of="$1" bs=440 count=1 conv=notrunc status=none
  dd if="$root/tmp/core.img" of="$1" bs=512 seek=1 conv=notrunc status=none
  rm -f "$root/tmp/core.img"
}

write_vmx() { # $1 folder, $2 name, $3 mac suffix, rest: extra lines
  local dir=$1 name=$2 mac=$3
  shift 3
  {
    cat <<EOF
.encoding = "UTF-8"
config.version = "8"
virtualHW.version = "19"
displayName = "$name"
guestOS = "debian12-64"
memSize = "1024"
numvcpus = "2"
cpuid.coresPerSocket = "1"
nvram = "$name.nvram"
pciBridge0.present = "TRUE"
pciBridge4.present = "TRUE"
pciBridge4.virtualDev = "pcieRootPort"
pciBridge4.functions = "8"
scsi0.present = "TRUE"
scsi0.virtualDev = "pvscsi"
scsi0.pciSlotNumber = "160"
scsi0:0.present = "TRUE"
scsi0:0.deviceType = "scsi-hardDisk"
scsi0:0.fileName = "$name.vmdk"
ethernet0.present = "TRUE"
ethernet0.virtualDev = "vmxnet3"
ethernet0.networkName = "VM Network"
ethernet0.addressType = "generated"
ethernet0.generatedAddress = "00:0c:29:5e:7a:$mac"
ethernet0.pciSlotNumber = "192"
tools.syncTime = "FALSE"
uuid.bios = "56 4d 2f 1c 8a 3b 4e 6f-9a 0b 1c 2d 3e 4f 5a $mac"
EOF
    printf '%s\n' "$@"
  } >"$dir/$name.vmx"
}

to_vmdk() { # $1 raw, $2 vmdk, $3 subformat
  qemu-img convert -q -f raw -O vmdk -o "subformat=$3,adapter_type=lsilogic" "$1" "$2"
}

stage="$work/stage"
mkdir -p "$stage"

# --- debian12: monolithicSparse, Debian's default initramfs (MODULES=most) --
say "debian12"
printf '/dev/sda1\t/\text4\terrors=remount-ro\t0\t1\n' >"$root/etc/fstab"
write_grub_cfg "UUID=$uuid_root"
make_disk "$work/sys.raw" 3072 "$root" "$uuid_root" root
install_grub "$work/sys.raw"
mkdir -p "$stage/debian12"
to_vmdk "$work/sys.raw" "$stage/debian12/debian12.vmdk" monolithicSparse
write_vmx "$stage/debian12" debian12 01

# --- debian12-split: 2 GB extents, a data disk on a second controller -------
say "debian12-split"
printf '/dev/sda1\t/\text4\terrors=remount-ro\t0\t1\n/dev/sdb1\t/data\text4\tdefaults\t0\t2\n' >"$root/etc/fstab"
mkdir -p "$root/data"
make_disk "$work/sys.raw" 3072 "$root" "$uuid_root" root
install_grub "$work/sys.raw"
mkdir -p "$work/datadir"
echo "ferry test data" >"$work/datadir/hello.txt"
make_disk "$work/data.raw" 256 "$work/datadir" "$uuid_data" data
mkdir -p "$stage/debian12-split"
to_vmdk "$work/sys.raw" "$stage/debian12-split/debian12-split.vmdk" twoGbMaxExtentSparse
to_vmdk "$work/data.raw" "$stage/debian12-split/debian12-split_1.vmdk" twoGbMaxExtentSparse
write_vmx "$stage/debian12-split" debian12-split 02 \
  'scsi1.present = "TRUE"' 'scsi1.virtualDev = "pvscsi"' 'scsi1.pciSlotNumber = "224"' \
  'scsi1:0.present = "TRUE"' 'scsi1:0.deviceType = "scsi-hardDisk"' 'scsi1:0.fileName = "debian12-split_1.vmdk"'
rm -f "$work/data.raw"
rmdir "$root/data"

# --- debian12-strict: an initramfs with only the drivers it booted with ----
say "debian12-strict"
printf '/dev/sda1\t/\text4\terrors=remount-ro\t0\t1\n' >"$root/etc/fstab"
sed -i 's/^MODULES=.*/MODULES=list/' "$root/etc/initramfs-tools/initramfs.conf"
printf 'vmw_pvscsi\nsd_mod\next4\ncrc32c_generic\n' >>"$root/etc/initramfs-tools/modules"
echo 'GRUB_DISABLE_LINUX_UUID=true' >>"$root/etc/default/grub"
chroot "$root" update-initramfs -u -k "$kver" >"$work/initramfs.log" 2>&1 || { cat "$work/initramfs.log" >&2; exit 1; }
write_grub_cfg /dev/sda1
make_disk "$work/sys.raw" 3072 "$root" "$uuid_root" root
install_grub "$work/sys.raw"
mkdir -p "$stage/debian12-strict"
to_vmdk "$work/sys.raw" "$stage/debian12-strict/debian12-strict.vmdk" monolithicSparse
write_vmx "$stage/debian12-strict" debian12-strict 03
rm -f "$work/sys.raw"

echo "$kver" >"$stage/KERNEL"
sha256sum "$self" >"$stage/RECIPE"
touch "$stage/READY"
mv "$stage" "$out"
say "done: $out"
echo "$out"
