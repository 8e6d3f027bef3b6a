// A character-at-a-time view of JSON text for scanners that act on its
// structure without parsing it.
#ifndef NEEDLE_JSON_STRING_SCANNER_H_
#define NEEDLE_JSON_STRING_SCANNER_H_

namespace needle {

// Tells a JSON text's strings from its structure, fed one character at a time:
// a quote opens a string, a backslash escapes the character after it, and
// brackets, commas and quotes inside a string are text. Every scanner that acts
// on structure without parsing (nesting limits, splitting a top-level array,
// finding call names in partial output) reads strings through this one rule.
class JsonStringScanner {
 public:
  // True while inside a string, i.e. after its opening quote and until its
  // closing quote has been fed.
  bool inside() const { return inside_; }

  // Feeds `c`; true when `c` belongs to a string, its quotes included.
  bool Feed(char c) {
    if (!inside_) {
      inside_ = c == '"';
      return inside_;
    }
    if (escaped_) {
      escaped_ = false;
    } else if (c == '\\') {
      escaped_ = true;
    } else if (c == '"') {
      inside_ = false;
    }
    return true;
  }

 private:
  bool inside_ = false;
  bool escaped_ = false;
};

}  // namespace needle

#endif  // NEEDLE_JSON_STRING_SCANNER_H_
