"""A zip archive written as a stream of bytes in constant memory, for exports of any size.

Pure Python (struct and zlib); it knows nothing of Django. ``ZipStream.entry`` yields an entry's
bytes as its content streams in, ``close`` the central directory, which waits in a temporary
file meanwhile; ``coalesced`` joins the small pieces into response-sized chunks."""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from typing import BinaryIO

# How much of the central directory is copied out at a time.
COPY_CHUNK_BYTES = 256 * 1024

# Zip constants: format version 4.5 (zip64), entries followed by a data descriptor (sizes and
# CRC are known only after the data is streamed) with UTF-8 names, every time 2000-01-01.
_ZIP_VERSION = 45
_ZIP_FLAGS = 0x08 | 0x800
_ZIP_DOS_DATE = (20 << 9) | (1 << 5) | 1
_ZIP_UNKNOWN = 0xFFFFFFFF


class ZipStream:
    """Writes a zip archive as a stream of bytes in constant memory.

    ``zipfile`` keeps a ZipInfo per entry until it writes the central directory at the end,
    about a kilobyte per file: 100,000 images cost ~80 MB and a million would not fit. Here
    each entry's central-directory record goes to a temporary file as soon as the entry is
    written and is copied out at the end. Every entry is zip64, so no size limit applies."""

    def __init__(self, directory: BinaryIO) -> None:
        self._offset = 0
        self._count = 0
        self._directory = directory

    def _out(self, data: bytes) -> bytes:
        self._offset += len(data)
        return data

    def entry(self, name: str, chunks: Iterable[bytes], *, compress: bool) -> Iterator[bytes]:
        encoded = name.encode("utf-8")
        method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        header_offset = self._offset
        yield self._out(
            struct.pack(
                "<IHHHHHIIIHH",
                0x04034B50,
                _ZIP_VERSION,
                _ZIP_FLAGS,
                method,
                0,
                _ZIP_DOS_DATE,
                0,
                _ZIP_UNKNOWN,
                _ZIP_UNKNOWN,
                len(encoded),
                20,
            )
            + encoded
            + struct.pack("<HHQQ", 0x0001, 16, 0, 0)
        )
        crc = size = compressed = 0
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15) if compress else None
        for chunk in chunks:
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
            data = compressor.compress(chunk) if compressor else chunk
            compressed += len(data)
            if data:
                yield self._out(data)
        if compressor:
            data = compressor.flush()
            compressed += len(data)
            yield self._out(data)
        yield self._out(struct.pack("<IIQQ", 0x08074B50, crc, compressed, size))
        extra = struct.pack("<HHQQQ", 0x0001, 24, size, compressed, header_offset)
        self._directory.write(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                (3 << 8) | _ZIP_VERSION,
                _ZIP_VERSION,
                _ZIP_FLAGS,
                method,
                0,
                _ZIP_DOS_DATE,
                crc,
                _ZIP_UNKNOWN,
                _ZIP_UNKNOWN,
                len(encoded),
                len(extra),
                0,
                0,
                0,
                0o100644 << 16,
                _ZIP_UNKNOWN,
            )
            + encoded
            + extra
        )
        self._count += 1

    def close(self) -> Iterator[bytes]:
        directory_offset = self._offset
        self._directory.seek(0)
        while chunk := self._directory.read(COPY_CHUNK_BYTES):
            yield self._out(chunk)
        directory_size = self._offset - directory_offset
        end64_offset = self._offset
        yield self._out(
            struct.pack(
                "<IQHHIIQQQQ",
                0x06064B50,
                44,
                (3 << 8) | _ZIP_VERSION,
                _ZIP_VERSION,
                0,
                0,
                self._count,
                self._count,
                directory_size,
                directory_offset,
            )
            + struct.pack("<IIQI", 0x07064B50, 0, end64_offset, 1)
            + struct.pack(
                "<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, _ZIP_UNKNOWN, _ZIP_UNKNOWN, 0
            )
        )


def coalesced(pieces: Iterable[bytes], flush_bytes: int = 64 * 1024) -> Iterator[bytes]:
    """Joins small pieces (zip headers) into response chunks of about ``flush_bytes``."""
    buffer: list[bytes] = []
    size = 0
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= flush_bytes:
            yield b"".join(buffer)
            buffer.clear()
            size = 0
    if buffer:
        yield b"".join(buffer)
