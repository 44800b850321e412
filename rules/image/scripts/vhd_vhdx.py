"""Write a raw disk image as a fixed VHD or a dynamic VHDX, deterministically.

  vhd_vhdx.py vhd  RAW OUT SEED SOURCE_DATE_EPOCH
  vhd_vhdx.py vhdx RAW OUT SEED

Written by hand because `qemu-img convert` puts random GUIDs and the current time into both
formats, so two conversions of one raw file differ. Here every identifier is derived from SEED
(a digest of the image's inputs) and the only time is SOURCE_DATE_EPOCH. Standard library only.

VHD: the "Virtual Hard Disk Image Format Specification" (fixed disk = raw data + 512-byte footer).
VHDX: [MS-VHDX] v1: file identifier, two headers, two region tables, an empty log, a metadata
region and a BAT, then 1 MiB-aligned payload blocks; all-zero blocks are left out (dynamic).
"""
import hashlib
import struct
import sys
import uuid

MIB = 1 << 20


def guid(seed: str, name: str) -> uuid.UUID:
    return uuid.UUID(bytes=hashlib.sha256(f"{seed}\0{name}".encode()).digest()[:16], version=5)


# --- VHD ---------------------------------------------------------------------------------------

def chs(total_sectors: int):
    """Disk geometry, as the VHD specification computes it."""
    total_sectors = min(total_sectors, 65535 * 16 * 255)
    if total_sectors >= 65535 * 16 * 63:
        spt, heads = 255, 16
        cth = total_sectors // spt
    else:
        spt = 17
        cth = total_sectors // spt
        heads = max((cth + 1023) // 1024, 4)
        if cth >= heads * 1024 or heads > 16:
            spt, heads = 31, 16
            cth = total_sectors // spt
        if cth >= heads * 1024:
            spt, heads = 63, 16
            cth = total_sectors // spt
    return cth // heads, heads, spt


def vhd_footer(size: int, seed: str, source_date_epoch: int) -> bytes:
    cylinders, heads, spt = chs(size // 512)
    vhd_epoch = 946684800  # 2000-01-01T00:00:00Z
    footer = bytearray(
        struct.pack(
            ">8sIIQI4sI4sQQHBBII16sB",
            b"conectix",
            2,  # features: reserved bit, always set
            0x00010000,  # format version 1.0
            0xFFFFFFFFFFFFFFFF,  # data offset: none, a fixed disk
            max(source_date_epoch - vhd_epoch, 0),
            b"keel",
            0x00010000,
            b"Wi2k",
            size,  # original size
            size,  # current size
            cylinders,
            heads,
            spt,
            2,  # disk type: fixed
            0,  # checksum, below
            guid(seed, "vhd unique id").bytes,
            0,  # saved state
        )
    )
    footer += bytes(512 - len(footer))
    checksum = (~sum(footer)) & 0xFFFFFFFF
    struct.pack_into(">I", footer, 64, checksum)
    return bytes(footer)


def write_vhd(raw: str, out: str, seed: str, source_date_epoch: int) -> None:
    with open(raw, "rb") as src, open(out, "wb") as dst:
        size = 0
        while True:
            block = src.read(MIB)
            if not block:
                break
            dst.write(block)
            size += len(block)
        if size % MIB:
            sys.exit(f"vhd: the disk is {size} bytes; Azure needs a whole number of MiB")
        dst.write(vhd_footer(size, seed, source_date_epoch))


# --- VHDX --------------------------------------------------------------------------------------

def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), which VHDX checksums use; the standard library has only CRC-32."""
    crc = 0xFFFFFFFF
    table = _CRC32C
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def with_checksum(structure: bytearray, offset: int = 4) -> bytes:
    struct.pack_into("<I", structure, offset, 0)
    struct.pack_into("<I", structure, offset, crc32c(bytes(structure)))
    return bytes(structure)


BAT_GUID = uuid.UUID("2DC27766-F623-4200-9D64-115E9BFD4A08")
METADATA_GUID = uuid.UUID("8B7CA206-4790-4B9A-B8FE-575F050F886E")
FILE_PARAMETERS = uuid.UUID("CAA16737-FA36-4D43-B3B6-33F0AA44E76B")
VIRTUAL_DISK_SIZE = uuid.UUID("2FA54224-CD1B-4876-B211-5DBED83BF4B8")
VIRTUAL_DISK_ID = uuid.UUID("BECA12AB-B2E6-4523-93EF-C309E000C746")
LOGICAL_SECTOR_SIZE = uuid.UUID("8141BF1D-A96F-4709-BA47-F233A8FAAB5F")
PHYSICAL_SECTOR_SIZE = uuid.UUID("CDA348C7-445D-4471-9CC9-E9885251C556")

BLOCK_SIZE = 2 * MIB  # small blocks keep small images small; 1 MiB..256 MiB are allowed
LOGICAL_SECTOR = 512
PHYSICAL_SECTOR = 4096
CHUNK_RATIO = (1 << 23) * LOGICAL_SECTOR // BLOCK_SIZE  # payload blocks per sector bitmap block
LOG_OFFSET, LOG_LENGTH = 1 * MIB, 1 * MIB
METADATA_OFFSET, METADATA_LENGTH = 2 * MIB, 1 * MIB
BAT_OFFSET = 3 * MIB
PAYLOAD_BLOCK_NOT_PRESENT, PAYLOAD_BLOCK_FULLY_PRESENT = 0, 6


def vhdx_header(sequence: int, seed: str) -> bytes:
    header = bytearray(4096)
    struct.pack_into(
        "<4sIQ16s16s16sHHIQ",
        header,
        0,
        b"head",
        0,
        sequence,
        guid(seed, "vhdx file write").bytes_le,
        guid(seed, "vhdx data write").bytes_le,
        bytes(16),  # log GUID: zero, the log is empty
        0,  # log version
        1,  # version
        LOG_LENGTH,
        LOG_OFFSET,
    )
    return with_checksum(header)


def vhdx_region_table(bat_length: int) -> bytes:
    table = bytearray(64 * 1024)
    struct.pack_into("<4sIII", table, 0, b"regi", 0, 2, 0)
    struct.pack_into("<16sQII", table, 16, BAT_GUID.bytes_le, BAT_OFFSET, bat_length, 1)
    struct.pack_into("<16sQII", table, 48, METADATA_GUID.bytes_le, METADATA_OFFSET, METADATA_LENGTH, 1)
    return with_checksum(table)


def vhdx_metadata(size: int, seed: str) -> bytes:
    region = bytearray(METADATA_LENGTH)
    is_required, is_virtual_disk = 4, 2
    items = [
        (FILE_PARAMETERS, struct.pack("<II", BLOCK_SIZE, 0), is_required),
        (VIRTUAL_DISK_SIZE, struct.pack("<Q", size), is_required | is_virtual_disk),
        (VIRTUAL_DISK_ID, guid(seed, "vhdx virtual disk id").bytes_le, is_required | is_virtual_disk),
        (LOGICAL_SECTOR_SIZE, struct.pack("<I", LOGICAL_SECTOR), is_required | is_virtual_disk),
        (PHYSICAL_SECTOR_SIZE, struct.pack("<I", PHYSICAL_SECTOR), is_required | is_virtual_disk),
    ]
    struct.pack_into("<8sHH", region, 0, b"metadata", 0, len(items))
    offset = 64 * 1024  # item data starts after the 64 KiB table
    for index, (item_id, data, flags) in enumerate(items):
        struct.pack_into("<16sIII", region, 32 + 32 * index, item_id.bytes_le, offset, len(data), flags)
        region[offset : offset + len(data)] = data
        offset += len(data)
    return bytes(region)


def write_vhdx(raw: str, out: str, seed: str) -> None:
    with open(raw, "rb") as src:
        src.seek(0, 2)
        size = src.tell()
        src.seek(0)
        if size % LOGICAL_SECTOR:
            sys.exit(f"vhdx: the disk is {size} bytes, not a whole number of sectors")
        blocks = (size + BLOCK_SIZE - 1) // BLOCK_SIZE
        entries = blocks + (blocks - 1) // CHUNK_RATIO
        bat_length = (entries * 8 + MIB - 1) // MIB * MIB
        bat = bytearray(bat_length)
        next_offset = BAT_OFFSET + bat_length
        with open(out, "wb") as dst:
            dst.write(b"vhdxfile" + "keel".encode("utf-16-le").ljust(512, b"\0"))
            for sequence, offset in ((0, 64 * 1024), (1, 128 * 1024)):
                dst.seek(offset)
                dst.write(vhdx_header(sequence, seed))
            for offset in (192 * 1024, 256 * 1024):
                dst.seek(offset)
                dst.write(vhdx_region_table(bat_length))
            dst.seek(METADATA_OFFSET)
            dst.write(vhdx_metadata(size, seed))
            for block in range(blocks):
                data = src.read(BLOCK_SIZE)
                state, file_mb = PAYLOAD_BLOCK_NOT_PRESENT, 0
                if data.count(0) != len(data):
                    dst.seek(next_offset)
                    dst.write(data.ljust(BLOCK_SIZE, b"\0"))
                    state, file_mb = PAYLOAD_BLOCK_FULLY_PRESENT, next_offset // MIB
                    next_offset += BLOCK_SIZE
                index = block + block // CHUNK_RATIO  # a sector bitmap entry after each chunk
                struct.pack_into("<Q", bat, index * 8, state | (file_mb << 20))
            dst.seek(BAT_OFFSET)
            dst.write(bat)
            dst.truncate(max(next_offset, BAT_OFFSET + bat_length))


def main() -> None:
    kind = sys.argv[1] if len(sys.argv) > 1 else ""
    if kind == "vhd" and len(sys.argv) == 6:
        write_vhd(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif kind == "vhdx" and len(sys.argv) == 5:
        write_vhdx(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
