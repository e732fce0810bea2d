# shellcheck shell=bash
# rhel-like: Debian 12 packages in the shape of a RHEL 9 guest on VMware
# (sourced by scripts/build-guest.sh with $root, $work, $stage, $kver set).
# dracut instead of initramfs-tools (host-only, as RHEL builds it: vmw_pvscsi,
# LVM, XFS, no virtio at all), /boot on /dev/sda1 (ext4), LVM PV on sda2 with
# VG rhel (LV root: XFS, LV swap), lvm devices file pinning the PV,
# NetworkManager keyfiles (no ifupdown), grub-pc with
# root=/dev/mapper/rhel-root rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap.
# Not RHEL: Debian's paths and packages, no rpm, no SELinux, no BLS entries.
# shellcheck source=nics.sh
. "$here/nics.sh"

name=rhel-like
uuid_boot=3e1f5a7c-2b4d-4e6f-8a9b-1c2d3e4f5a6b
# The PV's UUID, chosen here so the devices file and the initramfs can name it.
pv_uuid=Fer7yP-Vx1d-RhL9-0001-aBcD-eFgH-iJkL01
pvid=${pv_uuid//-/}

# dracut host-only, persisted as RHEL does (written first: the package's own
# first build is then host-only too, and quicker).
mkdir -p "$root/etc/dracut.conf.d"
printf '# as RHEL builds it: only what this machine needs\nhostonly="yes"\n' >"$root/etc/dracut.conf.d/01-hostonly.conf"
say "packages: dracut lvm2 xfsprogs network-manager nftables (initramfs-tools, ifupdown out)"
# the package's own first build is thrown away below: no compression for it
echo 'compress="cat"' >"$root/etc/dracut.conf.d/99-ferry-build.conf"
chroot_apt "$root" install --no-install-recommends dracut lvm2 xfsprogs network-manager nftables
rm -f "$root/etc/dracut.conf.d/99-ferry-build.conf"
chroot_apt "$root" purge initramfs-tools initramfs-tools-core ifupdown isc-dhcp-client
rm -f "$root/etc/network/interfaces"
chroot_clean "$root"
# Debian's dracut names the image as initramfs-tools did.
[ ! -e "$root/usr/sbin/update-initramfs" ] || [ -L "$root/usr/sbin/update-initramfs" ] || { say "initramfs-tools still installed"; exit 1; }

guest_basics "$name" "rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap"
nic_report
nft_rules

# NetworkManager keyfiles, one per NIC, as nmcli writes them. The backup
# network's file sorts first ("backup" < "ens192" < "ens224").
keyfile() { # $1 file id, $2 interface, $3 uuid, rest: [ipv4] lines
  local f="$root/etc/NetworkManager/system-connections/$1.nmconnection" id=$1 ifc=$2 uuid=$3
  shift 3
  {
    printf '[connection]\nid=%s\nuuid=%s\ntype=ethernet\ninterface-name=%s\n\n[ethernet]\n\n[ipv4]\n' "$id" "$uuid" "$ifc"
    printf '%s\n' "$@"
    printf '\n[ipv6]\naddr-gen-mode=eui64\nmethod=disabled\n\n[proxy]\n'
  } >"$f"
  chmod 600 "$f"
}
mkdir -p "$root/etc/NetworkManager/system-connections"
keyfile backup ens256 6f1c2d3e-4a5b-4c6d-9e8f-0a1b2c3d4e5f address1=10.20.30.40/24 method=manual
keyfile ens192 ens192 1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d address1=192.168.50.10/24,192.168.50.1 dns=192.168.50.1\; method=manual
keyfile ens224 ens224 9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a method=auto

# LVM as RHEL 9 sets it up: the devices file on, the PV pinned by device name.
sed -i 's/^\(\s*\)# use_devicesfile = 0/\1use_devicesfile = 1/' "$root/etc/lvm/lvm.conf"
grep -q '^\s*use_devicesfile = 1' "$root/etc/lvm/lvm.conf" || { say "lvm.conf has no use_devicesfile to turn on"; exit 1; }
mkdir -p "$root/etc/lvm/devices"
cat >"$root/etc/lvm/devices/system.devices" <<EOS
# LVM uses devices listed in this file.
# Created by LVM command vgimportdevices pid 1021 at Mon Nov 10 09:14:02 2025
VERSION=1.1.1
IDTYPE=devname IDNAME=/dev/sda2 DEVNAME=/dev/sda2 PVID=$pvid PART=2
EOS

cat >"$root/etc/fstab" <<'EOS'
#
# /etc/fstab
# Created by anaconda on Mon Nov 10 09:11:47 2025
#
/dev/mapper/rhel-root   /                       xfs     defaults        0 0
/dev/sda1               /boot                   ext4    defaults        1 2
/dev/mapper/rhel-swap   none                    swap    defaults        0 0
EOS

# The image is built with explicit options that are NOT persisted: host-only
# detection in this chroot would find the builder's own disks (virtio) and
# root (ext4), and would not see the guest's LVM. RHEL 9's dracut carries the
# LVM devices file; Debian's 059 does not, so it is named here.
say "dracut (host-only, vmw_pvscsi, lvm, xfs, no virtio)"
# every virtio module this kernel has (virtio_blk ... virtio_rng, virtio_crypto)
virtio_mods=$(find "$root/lib/modules/$kver" -name 'virtio*.ko*' -printf '%f\n' | sed 's/\.ko.*//; s/-/_/g' | sort -u | tr '\n' ' ')
chroot "$root" dracut --force --hostonly --no-hostonly-cmdline \
  --omit-drivers "$virtio_mods" \
  --add-drivers "vmw_pvscsi sd_mod dm_mod xfs" --add "dm lvm" --omit "virtiofs" --filesystems "xfs" \
  --install "/etc/lvm/lvm.conf /etc/lvm/devices/system.devices" \
  "/boot/initrd.img-$kver" "$kver" >"$work/dracut.log" 2>&1 || { tail -30 "$work/dracut.log" >&2; exit 1; }
chroot "$root" lsinitrd "/boot/initrd.img-$kver" >"$work/lsinitrd.txt"
cp "$work/lsinitrd.txt" "$stage/LSINITRD.txt"
for must in '/vmw_pvscsi\.ko' '/xfs\.ko' '/dm-mod\.ko' ' usr/sbin/lvm$' ' etc/lvm/lvm\.conf$' ' etc/lvm/devices/system\.devices$' ' usr/sbin/lvm_scan$'; do
  grep -Eq "$must" "$work/lsinitrd.txt" || { say "the initramfs lacks $must"; grep -E 'lvm|dracut modules' -A3 "$work/lsinitrd.txt" | head -40 >&2; exit 1; }
done
if grep -E '^[-dl].* usr/lib/modules/.*virtio' "$work/lsinitrd.txt"; then say "the initramfs holds virtio (above)"; exit 1; fi

# grub-pc reading /boot from partition 1: grub.cfg and modules in /boot/grub.
mkdir -p "$root/boot/grub/i386-pc"
cp "$root"/usr/lib/grub/i386-pc/*.mod "$root"/usr/lib/grub/i386-pc/*.lst "$root/boot/grub/i386-pc/"
cat >"$root/boot/grub/grub.cfg" <<EOS
serial --unit=0 --speed=115200
terminal_input console serial
terminal_output console serial
set default=0
set timeout=1
menuentry 'Debian GNU/Linux, in RHEL shape ($kver)' {
	insmod part_msdos
	insmod ext2
	search --no-floppy --fs-uuid --set=root $uuid_boot
	linux /vmlinuz-$kver root=/dev/mapper/rhel-root ro rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap console=tty0 console=ttyS0,115200n8
	initrd /initrd.img-$kver
}
EOS

# The disk: MBR, sda1 /boot (300 MiB ext4, made here), sda2 the LVM PV (filled in the appliance).
say "disk"
raw="$work/sys.raw"
truncate -s 3072M "$raw"
printf 'label: dos\nstart=2048, size=614400, type=83, bootable\nstart=616448, type=8e\n' | sfdisk -q "$raw"
mkfs.ext4 -q -F -E offset=1048576 -d "$root/boot" -U "$uuid_boot" -L boot "$raw" 300M
install_grub "$raw" '(hd0,msdos1)/grub'
find "$root/boot" -mindepth 1 -delete
tar -C "$root" --numeric-owner --xattrs --xattrs-include='*' -cf "$work/root.tar" .
say "LVM and XFS in the libguestfs appliance"
# KVM when it works (a broken one aborts at once; a working one runs until timeout stops it), else TCG.
accel_settings=force_tcg
rc=0
timeout 3 qemu-system-x86_64 -accel kvm -cpu host -machine q35 -S -display none -nodefaults >/dev/null 2>&1 || rc=$?
[ $rc -ne 124 ] || accel_settings=""
LIBGUESTFS_BACKEND=direct LIBGUESTFS_BACKEND_SETTINGS=$accel_settings /usr/bin/python3 - "$raw" "$work/root.tar" "$pv_uuid" <<'EOP' || exit 1
import sys, guestfs
raw, tar, pv_uuid = sys.argv[1:4]
g = guestfs.GuestFS(python_return_dict=True)
g.add_drive_opts(raw, format="raw")
g.launch()
# guestfs' pvcreate cannot choose the UUID; lvm itself can.
g.debug("sh", [f"lvm pvcreate -y --uuid {pv_uuid} --norestorefile /dev/sda2 >/dev/null"])
g.vgcreate("rhel", ["/dev/sda2"])
g.lvcreate("swap", "rhel", 256)
g.lvcreate_free("root", "rhel", 100)
g.mkswap("/dev/rhel/swap")
g.mkfs("xfs", "/dev/rhel/root")
g.mount("/dev/rhel/root", "/")
g.tar_in(tar, "/", xattrs=True)
g.umount_all()
g.vg_activate(False, ["rhel"])
g.shutdown()
g.close()
EOP
rm -f "$work/root.tar"
mkdir -p "$stage/$name"
to_vmdk "$raw" "$stage/$name/$name.vmdk" monolithicSparse
rm -f "$raw"
write_vmx3 "$stage/$name" "$name" rhel9-64 "$name.vmdk" 4b:1e c0 'nvram = "rhel-like.nvram"'
