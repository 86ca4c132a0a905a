// Whole-file input and output for recorded hosts and imported dumps.
//
// Reading: a path or "-" (stdin), with a size cap so a hostile or mistaken input (a disk image,
// /dev/zero) cannot exhaust memory; xz-compressed input is recognised by its magic bytes and
// decompressed through `xz -dc` (xz-utils), so callers never care whether a file ends in `.xz`.
// Writing: a path or "-" (stdout); a regular file is replaced atomically (temporary file in the
// same directory, fsync, rename), so a reader never sees a half-written file.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/model/result.h"

namespace kvmprobe::collect {

/// Largest input read by read_whole_file(), after decompression: 256 MiB.
inline constexpr std::size_t kMaxInputBytes = std::size_t{256} << 20;

/// Whether read_whole_file() decompresses xz input.
enum class Decompress { none, xz };

/// Reads all of \a path ("-" = stdin), at most \a max_bytes (after decompression with
/// Decompress::xz). Failures are ErrorKind::bad_input (missing, unreadable, a directory, too
/// big, corrupt xz) or ErrorKind::io (read error, xz not installed); the detail names the path.
Result<std::string> read_whole_file(const std::string& path, Decompress decompress = Decompress::none,
                                    std::size_t max_bytes = kMaxInputBytes);

/// Whether \a data starts with the xz stream magic (FD 37 7A 58 5A 00).
bool is_xz(std::string_view data);

/// Decompresses an xz stream by piping it through `xz -dc`; at most \a max_bytes of output.
/// \a what names the input in error messages.
Result<std::string> xz_decompress(std::string_view data, const std::string& what,
                                  std::size_t max_bytes = kMaxInputBytes);

/// Writes \a content to \a path ("-" = stdout). A regular file (or a new one) is replaced
/// atomically and never left half-written; an existing non-regular file such as /dev/null or a
/// FIFO is written in place. Returns the error, or nullopt on success (ErrorKind::io).
std::optional<Error> write_whole_file(const std::string& path, std::string_view content);

}  // namespace kvmprobe::collect
