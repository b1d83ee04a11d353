// Attribute expressions over catalog items, as marketers write them in
// business rules:
//
//   category == "Kitchen" and price < 20
//   brand in ["Acme", "Globex"] or attributes.color == "red"
//   stock > 0 and not title contains "refurbished"
//
// Fields: id, title, description, brand, category (any level of the path),
// price, currency, stock, active, age_days (days since the item was first
// stored), and attributes.NAME (any catalog attribute). Operators: ==, !=,
// <, <=, >, >=, in [list], contains, and, or, not, parentheses; the
// constants true and false. Text compares without regard to ASCII case. A
// comparison with a field the item does not have (no price, untracked
// stock, no such attribute) is false, and so is its != ("unknown").
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "schema/types.h"

namespace vitrina {

class Expression {
 public:
  // Brackets and "not" nest at most this deep.
  static constexpr size_t kMaxNesting = 32;

  // InvalidArgument with "at column N: ..." (1-based, in characters of the
  // text) when the text is not an expression (or nests deeper than
  // kMaxNesting).
  static Result<Expression> Parse(std::string_view text);

  Expression(Expression&&) noexcept;
  Expression& operator=(Expression&&) noexcept;
  ~Expression();

  // Whether `item` matches; `now_ms` is the time age_days counts to.
  bool Matches(const Item& item, int64_t now_ms) const;

  const std::string& text() const { return text_; }

  struct Node;

 private:
  Expression(std::string text, std::unique_ptr<Node> root);
  std::string text_;
  std::unique_ptr<Node> root_;
};

}  // namespace vitrina
