#include "needle/utf8.h"

#include <string>

#include "gtest/gtest.h"

namespace needle {
namespace {

constexpr size_t kValid = std::string_view::npos;

TEST(Utf8Test, AcceptsWellFormedText) {
  EXPECT_EQ(FindInvalidUtf8(""), kValid);
  EXPECT_EQ(FindInvalidUtf8("plain ascii"), kValid);
  EXPECT_EQ(FindInvalidUtf8("Zo\xC3\xAB \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x94\x94"), kValid);  // 2, 3, 4 bytes
  EXPECT_EQ(FindInvalidUtf8(std::string("nul\0inside", 10)), kValid);
  EXPECT_EQ(FindInvalidUtf8("\xF4\x8F\xBF\xBF"), kValid);  // U+10FFFF, the last code point
  EXPECT_EQ(FindInvalidUtf8("\xED\x9F\xBF"), kValid);      // U+D7FF, just below the surrogates
}

TEST(Utf8Test, ReportsTheOffsetOfTheFirstBadSequence) {
  EXPECT_EQ(FindInvalidUtf8("ab\xFF"), 2u);                // never valid
  EXPECT_EQ(FindInvalidUtf8("caf\xC3"), 3u);               // cut short at the end
  EXPECT_EQ(FindInvalidUtf8("x\xC3(y"), 1u);               // bad continuation
  EXPECT_EQ(FindInvalidUtf8("\x80"), 0u);                  // lone continuation byte
  EXPECT_EQ(FindInvalidUtf8("ok \xC0\xAF"), 3u);           // overlong "/"
  EXPECT_EQ(FindInvalidUtf8("\xE0\x80\xAF"), 0u);          // overlong, 3 bytes
  EXPECT_EQ(FindInvalidUtf8("\xF0\x80\x80\xAF"), 0u);      // overlong, 4 bytes
  EXPECT_EQ(FindInvalidUtf8("\xED\xA0\x80"), 0u);          // U+D800, a surrogate
  EXPECT_EQ(FindInvalidUtf8("\xF4\x90\x80\x80"), 0u);      // U+110000, past the last code point
  EXPECT_EQ(FindInvalidUtf8("\xE6\x97\xA5\xE6\x97"), 3u);  // second character cut short
}

}  // namespace
}  // namespace needle
