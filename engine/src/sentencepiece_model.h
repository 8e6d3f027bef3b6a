// The only door to libsentencepiece. Its header declares `absl::string_view`
// as std::string_view, which clashes with Debian's Abseil, so no file that
// includes it may see an Abseil header: this wrapper speaks std types only.
#ifndef NEEDLE_SRC_SENTENCEPIECE_MODEL_H_
#define NEEDLE_SRC_SENTENCEPIECE_MODEL_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace needle {

class SentencePieceModel {
 public:
  // Returns null and fills `error` when `path` is not a SentencePiece model.
  // From the bytes of a .model file (a serialized ModelProto).
  static std::unique_ptr<SentencePieceModel> FromBytes(const std::string& bytes, std::string* error);
  ~SentencePieceModel();

  int size() const;
  std::string IdToPiece(int id) const;
  bool IsControl(int id) const;
  bool IsUnknown(int id) const;
  bool IsByte(int id) const;
  std::vector<int> Encode(std::string_view text) const;
  std::string Decode(const std::vector<int>& ids) const;

 private:
  SentencePieceModel();
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
};

}  // namespace needle

#endif  // NEEDLE_SRC_SENTENCEPIECE_MODEL_H_
