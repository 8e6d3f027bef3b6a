#include "src/sentencepiece_model.h"

#include <sentencepiece_processor.h>

namespace needle {

SentencePieceModel::SentencePieceModel() : processor_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {}
SentencePieceModel::~SentencePieceModel() = default;

std::unique_ptr<SentencePieceModel> SentencePieceModel::FromBytes(const std::string& bytes, std::string* error) {
  std::unique_ptr<SentencePieceModel> model(new SentencePieceModel());
  if (const auto status = model->processor_->LoadFromSerializedProto(bytes); !status.ok()) {
    *error = status.ToString();
    return nullptr;
  }
  return model;
}

int SentencePieceModel::size() const { return processor_->GetPieceSize(); }
std::string SentencePieceModel::IdToPiece(int id) const { return processor_->IdToPiece(id); }
bool SentencePieceModel::IsControl(int id) const { return processor_->IsControl(id); }
bool SentencePieceModel::IsUnknown(int id) const { return processor_->IsUnknown(id); }
bool SentencePieceModel::IsByte(int id) const { return processor_->IsByte(id); }

std::vector<int> SentencePieceModel::Encode(std::string_view text) const {
  std::vector<int> ids;
  // Encoding only fails on an unloaded model, which Load rules out.
  processor_->Encode(text, &ids).IgnoreError();
  return ids;
}

std::string SentencePieceModel::Decode(const std::vector<int>& ids) const {
  std::string text;
  processor_->Decode(ids, &text).IgnoreError();
  return text;
}

}  // namespace needle
