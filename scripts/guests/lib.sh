# shellcheck shell=bash
# Helpers shared by the guest recipes (sourced by scripts/build-guest.sh).
# A change here rebuilds every guest: keep it to what all recipes use.

say() { printf '[%6.1f] build-guest%s: %s\n' "$SECONDS" "${family:+ $family}" "$*" >&2; }

# The mirror this machine already uses (CI reaches Debian's packages only through it).
guest_mirror() {
  local m
  m=$(grep -rhoE '^(URIs:|deb)\s+https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | awk '{print $2}' | head -1 || true)
  echo "${m:-http://deb.debian.org/debian}"
}

# Unpack the shared debootstrap base into $1.
unpack_base() { # $1 folder, $2 base tarball
  mkdir -p "$1"
  zstd -q -d -c "$2" | tar -C "$1" --numeric-owner --xattrs --xattrs-include='*' -xpf -
}

# Install extra Debian packages into a copy of the base with the chroot's own
# apt, from the same mirror; no service starts (policy-rc.d).
chroot_apt() { # $1 root, rest: apt-get arguments
  local r=$1
  shift
  printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
  chmod 755 "$r/usr/sbin/policy-rc.d"
  mountpoint -q "$r/proc" || mount -t proc proc "$r/proc"
  local rc=0
  if [ ! -d "$r/var/lib/apt/lists/partial" ] || [ -z "$(ls "$r/var/lib/apt/lists/" | grep -v partial | grep -v lock)" ]; then
    chroot "$r" apt-get update -qq >>"$work/apt.log" 2>&1 || rc=$?
  fi
  [ $rc -eq 0 ] && { DEBIAN_FRONTEND=noninteractive chroot "$r" apt-get -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" >>"$work/apt.log" 2>&1 || rc=$?; }
  umount "$r/proc" 2>/dev/null || true
  rm -f "$r/usr/sbin/policy-rc.d"
  [ $rc -eq 0 ] || { tail -30 "$work/apt.log" >&2; return 1; }
}

# Drop apt's lists and downloaded packages from a root (they are not part of the guest's shape).
chroot_clean() { # $1 root
  chroot "$1" apt-get clean
  rm -rf "$1"/var/lib/apt/lists/*
}

# grub.cfg as grub-mkconfig would write it, by hand: grub-probe cannot see a device in a chroot.
write_grub_cfg() { # $1 root= argument
  cat >"$root/boot/grub/grub.cfg" <<EOG
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
EOG
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
install_grub() { # $1 raw file, $2 grub prefix (default: /boot/grub on partition 1)
  chroot "$root" grub-mkimage -O i386-pc -o /tmp/core.img -p "${2:-(hd0,msdos1)/boot/grub}" biosdisk part_msdos ext2 search_fs_uuid
  dd if="$root/usr/lib/grub/i386-pc/boot.img" of="$1" bs=440 count=1 conv=notrunc status=none
  dd if="$root/tmp/core.img" of="$1" bs=512 seek=1 conv=notrunc status=none
  rm -f "$root/tmp/core.img"
}

write_vmx() { # $1 folder, $2 name, $3 mac suffix, rest: extra lines
  local dir=$1 name=$2 mac=$3
  shift 3
  {
    cat <<EOV
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
EOV
    printf '%s\n' "$@"
  } >"$dir/$name.vmx"
}

to_vmdk() { # $1 raw, $2 vmdk, $3 subformat
  qemu-img convert -q -f raw -O vmdk -o "subformat=$3,adapter_type=lsilogic" "$1" "$2"
}
