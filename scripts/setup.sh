#!/usr/bin/env bash
# Installs whatever is missing on a fresh Debian machine with Node 20, then
# (with --build) builds the web app when its sources changed.
#   Debian packages: chromium (end-to-end tests), qemu-utils (qemu-img, qemu-io),
#                    qemu-block-extra (qemu-img's ssh driver, block-ssh), openssh-server and
#                    openssh-client (a real sshd for the SSH input's tests; ssh-agent, scp),
#                    libvirt-clients + libxml2-utils (virt-xml-validate checks the libvirt XML;
#                    virsh drives -o libvirt), libvirt-daemon + libvirt-daemon-driver-qemu (the
#                    libvirtd that -o libvirt's tests start in namespaces of their own; no
#                    service is enabled: libvirt-daemon-system is not installed),
#                    libguestfs-tools + python3-guestfs (inspection and conversion, one
#                    appliance per run), python3-hivex (Windows registry hives), xorriso (a test virtio-win ISO), linux-image-amd64 (the appliance's kernel: supermin
#                    builds it from the host's), qemu-system-x86 and ovmf (the boot check,
#                    BIOS and UEFI guests),
#                    debootstrap, fdisk, e2fsprogs, zstd (the Debian test guest builder;
#                    zstd and xz also read guests' initramfs images), libguestfs-xfs,
#                    dosfstools, mtools (the rhel-like and uefi test guests),
#                    openssl (the self-signed HTTPS certificate made at first start),
#                    postgresql (the store several conversion hosts share; the tests start a
#                    throwaway cluster of their own from its binaries, as an unprivileged user)
#   npm packages:    npm ci, when package-lock.json changed
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  say "Node.js 20 or newer is needed (this is $(node --version))"
  exit 1
fi

# Debian packages, by the command each provides.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v qemu-img >/dev/null && command -v qemu-io >/dev/null || missing+=(qemu-utils)
# SSH input: qemu-img's ssh driver (block-ssh), and a real sshd for its tests.
[ -f /usr/lib/x86_64-linux-gnu/qemu/block-ssh.so ] || missing+=(qemu-block-extra)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh-agent >/dev/null || missing+=(openssh-client)
command -v prlimit >/dev/null || missing+=(util-linux)
command -v virt-xml-validate >/dev/null || missing+=(libvirt-clients)
command -v xmllint >/dev/null || missing+=(libxml2-utils)
[ -x /usr/sbin/libvirtd ] || missing+=(libvirt-daemon)
ls /usr/lib/*/libvirt/connection-driver/libvirt_driver_qemu.so >/dev/null 2>&1 || missing+=(libvirt-daemon-driver-qemu)
command -v guestfish >/dev/null || missing+=(libguestfs-tools)
/usr/bin/python3 -c 'import guestfs' 2>/dev/null || missing+=(python3-guestfs)
# Windows guests: registry hives read and edited with hivex; NTFS (ntfs-3g) comes with libguestfs.
/usr/bin/python3 -c 'import hivex' 2>/dev/null || missing+=(python3-hivex)
# The Windows tests make a virtio-win ISO from their fake tree (Ferry reads ISOs through libguestfs).
command -v xorriso >/dev/null || missing+=(xorriso)
ls /boot/vmlinuz-* >/dev/null 2>&1 || missing+=(linux-image-amd64)
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || missing+=(ovmf)
command -v debootstrap >/dev/null || missing+=(debootstrap)
# The UEFI boot-entry tests (server/qemu) boot a grub EFI loader made with grub-mkimage
# (its ESP is made with dosfstools and mtools, below).
[ -d /usr/lib/grub/x86_64-efi ] || missing+=(grub-efi-amd64-bin)
command -v sfdisk >/dev/null || missing+=(fdisk)
command -v debugfs >/dev/null && command -v mkfs.ext4 >/dev/null || missing+=(e2fsprogs)
command -v zstd >/dev/null || missing+=(zstd)
command -v xz >/dev/null || missing+=(xz-utils)
# The multi-NIC, rhel-like and uefi test guests: XFS inside the appliance (LVM is in
# libguestfs already), the EFI system partition made on the host.
dpkg-query -W -f '${Status}' libguestfs-xfs 2>/dev/null | grep -q 'ok installed' || missing+=(libguestfs-xfs)
command -v mkfs.vfat >/dev/null || missing+=(dosfstools)
command -v mcopy >/dev/null || missing+=(mtools)
command -v openssl >/dev/null || missing+=(openssl)
# PostgreSQL's server binaries (initdb, postgres); no cluster is created or started here.
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
# npm run bench compares the conversion with Debian's virt-v2v, which needs
# nbdkit and nbdcopy (libnbd-bin) at run time without depending on them.
if [ "${1:-}" = "--bench" ]; then
  command -v virt-v2v >/dev/null || missing+=(virt-v2v)
  command -v nbdkit >/dev/null || missing+=(nbdkit)
  command -v nbdcopy >/dev/null || missing+=(libnbd-bin)
fi
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing Debian packages: ${missing[*]}"
  # Only the binaries: Debian's postgresql would otherwise create and start a cluster of its own.
  if [[ " ${missing[*]} " == *" postgresql "* ]] && [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    $sudo mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" | $sudo tee /etc/postgresql-common/createcluster.conf >/dev/null
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages: reinstall when the lock file is newer than the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

if [ "${1:-}" = "--build" ]; then
  stamp=.next/BUILD_ID
  if [ ! -f "$stamp" ] || [ -n "$(find app components server public proxy.ts instrumentation.ts next.config.js postcss.config.mjs package-lock.json tsconfig.json -newer "$stamp" -print -quit 2>/dev/null)" ]; then
    say "building the web app (next build)"
    npx next build >/dev/null
  fi
fi
