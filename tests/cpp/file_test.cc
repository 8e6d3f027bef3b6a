#include "needle/file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "needle/safetensors.h"

namespace needle {
namespace {

using ::testing::HasSubstr;

std::string Fifo(const std::string& name) {
  const std::string path = ::testing::TempDir() + name;
  std::remove(path.c_str());
  EXPECT_EQ(mkfifo(path.c_str(), 0600), 0);
  return path;
}

TEST(ReadRegularFileTest, ReadsAFile) {
  const std::string path = ::testing::TempDir() + "regular.txt";
  std::ofstream(path, std::ios::binary) << "abc";
  absl::StatusOr<std::string> bytes = ReadRegularFile(path, 3);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(*bytes, "abc");
  EXPECT_THAT(std::string(ReadRegularFile(path, 2).status().message()),
              HasSubstr(": 3 bytes, more than the 2 accepted for this input"));
  std::remove(path.c_str());
}

// Each of these used to hang, read until memory ran out, or throw.
TEST(ReadRegularFileTest, RefusesWhatIsNotARegularFile) {
  const std::string fifo = Fifo("not_a_file.fifo");
  EXPECT_EQ(std::string(ReadRegularFile(fifo, 1 << 20).status().message()), fifo + ": is a FIFO, not a regular file");
  EXPECT_THAT(std::string(ReadRegularFile("/dev/zero", 1 << 20).status().message()),
              HasSubstr("/dev/zero: is a device, not a regular file"));
  EXPECT_THAT(std::string(ReadRegularFile(::testing::TempDir(), 1 << 20).status().message()),
              HasSubstr("is a directory, not a regular file"));
  EXPECT_EQ(ReadRegularFile(::testing::TempDir() + "missing", 1).status().code(), absl::StatusCode::kNotFound);
  std::remove(fifo.c_str());
}

TEST(ReadRegularFileTest, CheckpointThatIsAFifoIsRefused) {
  const std::string fifo = Fifo("model.safetensors");
  EXPECT_THAT(std::string(SafetensorsFile::Open(fifo).status().message()), HasSubstr("not a regular file"));
  std::remove(fifo.c_str());
}

}  // namespace
}  // namespace needle
