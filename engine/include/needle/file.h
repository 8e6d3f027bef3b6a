// Reading a whole input file that a user named: checkpoint-adjacent files,
// tokenizers, tool lists, datasets.
#ifndef NEEDLE_FILE_H_
#define NEEDLE_FILE_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"

namespace needle {

// The bytes of `path`, which must be a regular file of at most max_bytes.
// A FIFO, a device such as /dev/zero or a directory is refused by name
// instead of blocking, reading without end or throwing: the file is opened
// without blocking and checked before any byte is read.
absl::StatusOr<std::string> ReadRegularFile(const std::string& path, size_t max_bytes);

}  // namespace needle

#endif  // NEEDLE_FILE_H_
