# shellcheck shell=bash
# The three Debian 12 guests (sourced by scripts/build-guest.sh with $root, $work,
# $stage, $kver set). Like many real VMware guests, all three name /dev/sda1 in
# /etc/fstab and configure the network on ens192 (vmxnet3 in PCI slot 192).
#   debian12/        debian12.vmx + monolithicSparse VMDK (pvscsi, vmxnet3)
#   debian12-split/  twoGbMaxExtentSparse system disk + a data disk on scsi1
#   debian12-strict/ initramfs with only vmw_pvscsi (MODULES=list), grub root=/dev/sda1

# --- configuration shared by the three -------------------------------------
echo debian12 >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tdebian12\n' >"$root/etc/hosts"
echo 'root:ferry' | chroot "$root" chpasswd # a known password for looking around in a test guest
cat >"$root/etc/network/interfaces" <<'EON'
# The loopback network interface
auto lo
iface lo inet loopback

# The primary network interface (vmxnet3 in PCI slot 192)
allow-hotplug ens192
iface ens192 inet dhcp
EON
cat >"$root/etc/default/grub" <<'EON'
GRUB_DEFAULT=0
GRUB_TIMEOUT=1
GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200n8"
GRUB_TERMINAL="console serial"
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
EON
# Debian's grub-pc postinst keeps the core image's modules here; grub-install would copy them.
mkdir -p "$root/boot/grub/i386-pc"
cp "$root"/usr/lib/grub/i386-pc/*.mod "$root"/usr/lib/grub/i386-pc/*.lst "$root/boot/grub/i386-pc/"
chroot_clean "$root"

uuid_root=7c3b6a2e-5d0f-4e1a-9b7c-0f1e2d3c4b5a
uuid_data=2f6d8c1e-3a4b-4c5d-8e9f-a0b1c2d3e4f5

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
