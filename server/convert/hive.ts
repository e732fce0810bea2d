/**
 * The smallest Windows registry hive that hivex opens and extends: a regf
 * header, one 4 KiB hbin holding the root key (nk) and the security
 * descriptor (sk) every new key inherits, and the rest of the bin free.
 * hivex cannot start a hive from nothing, so Ferry writes this base and
 * hivex adds keys and values to it (the test guests' SYSTEM and SOFTWARE).
 * Pure: returns bytes.
 */

const HEADER = 0x1000;
const BIN = 0x1000;

/** A self-relative security descriptor: owner Administrators, group SYSTEM, Everyone full control, inherited by subkeys. */
function securityDescriptor(): Buffer {
  const sid = (authority: number, subs: number[]) => {
    const b = Buffer.alloc(8 + 4 * subs.length);
    b[0] = 1;
    b[1] = subs.length;
    b.writeUIntBE(authority, 2, 6);
    subs.forEach((s, i) => b.writeUInt32LE(s, 8 + 4 * i));
    return b;
  };
  const everyone = sid(1, [0]);
  const ace = Buffer.alloc(8 + everyone.length);
  ace[0] = 0; // ACCESS_ALLOWED_ACE_TYPE
  ace[1] = 0x02; // CONTAINER_INHERIT_ACE
  ace.writeUInt16LE(ace.length, 2);
  ace.writeUInt32LE(0xf003f, 4); // KEY_ALL_ACCESS
  everyone.copy(ace, 8);
  const acl = Buffer.alloc(8 + ace.length);
  acl[0] = 2;
  acl.writeUInt16LE(acl.length, 2);
  acl.writeUInt16LE(1, 4);
  ace.copy(acl, 8);
  const owner = sid(5, [32, 544]);
  const group = sid(5, [18]);
  const head = Buffer.alloc(20);
  head[0] = 1;
  head.writeUInt16LE(0x8004, 2); // SE_SELF_RELATIVE | SE_DACL_PRESENT
  head.writeUInt32LE(20 + acl.length, 4); // owner
  head.writeUInt32LE(20 + acl.length + owner.length, 8); // group
  head.writeUInt32LE(20, 16); // DACL
  return Buffer.concat([head, acl, owner, group]);
}

/** A cell: its size (negative: in use) then the record, padded to 8 bytes. */
function cell(record: Buffer): Buffer {
  const size = (4 + record.length + 7) & ~7;
  const b = Buffer.alloc(size);
  b.writeInt32LE(-size, 0);
  record.copy(b, 4);
  return b;
}

/** Bytes of an empty hive whose root key is called `rootName` (Windows' own hives name it like `CMI-CreateHive{...}`; hivex does not care). */
export function emptyHive(rootName = "ROOT"): Buffer {
  const name = Buffer.from(rootName, "latin1");
  if (name.length === 0 || name.length > 255) throw new RangeError("the root key's name must be 1 to 255 characters");
  const nkAt = 0x20; // offsets are from the first hbin
  const nk = Buffer.alloc(76 + name.length);
  nk.write("nk", 0, "latin1");
  nk.writeUInt16LE(0x2c, 2); // KEY_HIVE_ENTRY | KEY_NO_DELETE | KEY_COMP_NAME
  nk.writeUInt32LE(0xffffffff, 16); // parent: none
  nk.writeUInt32LE(0xffffffff, 28); // subkey list: none yet
  nk.writeUInt32LE(0xffffffff, 32); // volatile subkey list
  nk.writeUInt32LE(0xffffffff, 40); // value list
  nk.writeUInt32LE(0xffffffff, 48); // class name
  nk.writeUInt16LE(name.length, 72);
  name.copy(nk, 76);
  const nkCell = cell(nk);
  const skAt = nkAt + nkCell.length;
  nk.writeUInt32LE(skAt, 44);
  const sd = securityDescriptor();
  const sk = Buffer.alloc(20 + sd.length);
  sk.write("sk", 0, "latin1");
  sk.writeUInt32LE(skAt, 4); // a list of one: next and previous are itself
  sk.writeUInt32LE(skAt, 8);
  sk.writeUInt32LE(1, 12); // referenced by the root
  sk.writeUInt32LE(sd.length, 16);
  sd.copy(sk, 20);
  const skCell = cell(sk);

  const out = Buffer.alloc(HEADER + BIN);
  out.write("regf", 0, "latin1");
  out.writeUInt32LE(1, 4); // sequence numbers equal: the hive is consistent
  out.writeUInt32LE(1, 8);
  out.writeUInt32LE(1, 0x14); // version 1.3
  out.writeUInt32LE(3, 0x18);
  out.writeUInt32LE(0, 0x1c); // primary file
  out.writeUInt32LE(1, 0x20); // direct memory load
  out.writeUInt32LE(nkAt, 0x24);
  out.writeUInt32LE(BIN, 0x28);
  out.writeUInt32LE(1, 0x2c);
  let sum = 0;
  for (let i = 0; i < 0x1fc; i += 4) sum = (sum ^ out.readUInt32LE(i)) >>> 0;
  out.writeUInt32LE(sum === 0xffffffff ? 0xfffffffe : sum === 0 ? 1 : sum, 0x1fc);

  const bin = out.subarray(HEADER);
  bin.write("hbin", 0, "latin1");
  bin.writeUInt32LE(0, 4);
  bin.writeUInt32LE(BIN, 8);
  nkCell.copy(bin, nkAt);
  nk.copy(bin, nkAt + 4);
  skCell.copy(bin, skAt);
  const freeAt = skAt + skCell.length;
  bin.writeInt32LE(BIN - freeAt, freeAt); // the rest: one free cell
  return out;
}
