#include "rules/expression.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>
#include <variant>
#include <vector>

#include "common/strings.h"

namespace vitrina {
namespace {

constexpr double kMillisPerDay = 86400000.0;

enum class TokenKind { kEnd, kIdentifier, kString, kNumber, kOperator, kOpen, kClose, kOpenList, kCloseList, kComma };

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;  // identifier (as written), string value, operator
  double number = 0;
  size_t column = 1;  // 1-based, in characters
};

// Columns count UTF-8 characters, not bytes.
size_t ColumnOf(std::string_view text, size_t byte) {
  size_t column = 1;
  for (size_t i = 0; i < byte && i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++column;
  }
  return column;
}

Status ErrorAt(size_t column, const std::string& message) {
  return Status::InvalidArgument("at column " + std::to_string(column) + ": " + message);
}

bool IsIdentifierStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsIdentifierChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
}

Result<std::vector<Token>> Tokenize(std::string_view text) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (true) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    Token token;
    token.column = ColumnOf(text, i);
    if (i == text.size()) {
      tokens.push_back(token);
      return tokens;
    }
    const char c = text[i];
    if (c == '"' || c == '\'') {
      token.kind = TokenKind::kString;
      size_t j = i + 1;
      for (; j < text.size() && text[j] != c; ++j) {
        if (text[j] == '\\' && j + 1 < text.size()) ++j;
        token.text.push_back(text[j]);
      }
      if (j == text.size()) return ErrorAt(token.column, "this text has no closing quote");
      i = j + 1;
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               ((c == '-' || c == '.') && i + 1 < text.size() && std::isdigit(static_cast<unsigned char>(text[i + 1])))) {
      size_t j = i + 1;
      while (j < text.size() && (std::isalnum(static_cast<unsigned char>(text[j])) || text[j] == '.' ||
                                 ((text[j] == '-' || text[j] == '+') && (text[j - 1] == 'e' || text[j - 1] == 'E')))) {
        ++j;
      }
      std::optional<double> number = ParseDouble(text.substr(i, j - i));
      if (!number || !std::isfinite(*number)) {
        return ErrorAt(token.column, "'" + std::string(text.substr(i, j - i)) + "' is not a number");
      }
      token.kind = TokenKind::kNumber;
      token.number = *number;
      token.text = std::string(text.substr(i, j - i));
      i = j;
    } else if (IsIdentifierStart(c)) {
      size_t j = i + 1;
      while (j < text.size() && IsIdentifierChar(text[j])) ++j;
      token.kind = TokenKind::kIdentifier;
      token.text = std::string(text.substr(i, j - i));
      i = j;
    } else {
      static constexpr std::string_view kOperators[] = {"==", "!=", "<=", ">=", "&&", "||", "<", ">", "=", "!"};
      bool matched = false;
      for (std::string_view op : kOperators) {
        if (text.substr(i).starts_with(op)) {
          token.kind = TokenKind::kOperator;
          token.text = std::string(op);
          i += op.size();
          matched = true;
          break;
        }
      }
      if (!matched) {
        switch (c) {
          case '(': token.kind = TokenKind::kOpen; break;
          case ')': token.kind = TokenKind::kClose; break;
          case '[': token.kind = TokenKind::kOpenList; break;
          case ']': token.kind = TokenKind::kCloseList; break;
          case ',': token.kind = TokenKind::kComma; break;
          default:
            return ErrorAt(token.column, "unexpected character '" + PrintableAscii(text.substr(i, 1), 4) + "'");
        }
        token.text = std::string(1, c);
        ++i;
      }
    }
    tokens.push_back(std::move(token));
  }
}

enum class FieldKind { kId, kTitle, kDescription, kBrand, kCategory, kPrice, kCurrency, kStock, kActive, kAgeDays, kAttribute };
enum class ValueType { kText, kNumber, kBool, kAny };

struct FieldInfo {
  std::string_view name;
  FieldKind kind;
  ValueType type;
};
constexpr FieldInfo kFields[] = {
    {"id", FieldKind::kId, ValueType::kText},
    {"title", FieldKind::kTitle, ValueType::kText},
    {"description", FieldKind::kDescription, ValueType::kText},
    {"brand", FieldKind::kBrand, ValueType::kText},
    {"category", FieldKind::kCategory, ValueType::kText},
    {"price", FieldKind::kPrice, ValueType::kNumber},
    {"currency", FieldKind::kCurrency, ValueType::kText},
    {"stock", FieldKind::kStock, ValueType::kNumber},
    {"active", FieldKind::kActive, ValueType::kBool},
    {"age_days", FieldKind::kAgeDays, ValueType::kNumber},
};

std::string FieldList() {
  std::string list;
  for (const FieldInfo& field : kFields) list += std::string(field.name) + ", ";
  return list + "attributes.NAME";
}

enum class Op { kEq, kNe, kLt, kLe, kGt, kGe, kIn, kContains };

using Literal = std::variant<std::string, double, bool>;

}  // namespace

struct Expression::Node {
  enum class Kind { kOr, kAnd, kNot, kCompare, kConstant, kTruth } kind = Kind::kConstant;
  std::vector<std::unique_ptr<Node>> children;
  // kCompare and kTruth (a bare boolean field):
  FieldKind field = FieldKind::kId;
  std::string attribute;  // lower-case is not applied: attribute keys are exact
  Op op = Op::kEq;
  std::vector<Literal> values;  // one, or the list of `in`
  bool constant = false;
};

namespace {

using Node = Expression::Node;

// A field's value on one item.
struct FieldValue {
  enum class Kind { kMissing, kText, kNumber, kBool, kTextList } kind = Kind::kMissing;
  std::string_view text;
  double number = 0;
  bool boolean = false;
  const std::vector<std::string>* list = nullptr;
};

FieldValue Read(const Node& node, const Item& item, int64_t now_ms) {
  FieldValue value;
  auto text = [&](const std::string& s) {
    value.kind = FieldValue::Kind::kText;
    value.text = s;
  };
  auto number = [&](double n) {
    value.kind = FieldValue::Kind::kNumber;
    value.number = n;
  };
  switch (node.field) {
    case FieldKind::kId: text(item.id); break;
    case FieldKind::kTitle: text(item.title); break;
    case FieldKind::kDescription: text(item.description); break;
    case FieldKind::kBrand: if (!item.brand.empty()) text(item.brand); break;
    case FieldKind::kCurrency: if (!item.currency.empty()) text(item.currency); break;
    case FieldKind::kCategory:
      if (!item.category.empty()) {
        value.kind = FieldValue::Kind::kTextList;
        value.list = &item.category;
      }
      break;
    case FieldKind::kPrice: if (item.price) number(*item.price); break;
    case FieldKind::kStock: if (item.stock) number(static_cast<double>(*item.stock)); break;
    case FieldKind::kAgeDays:
      if (item.created_ms > 0) number(static_cast<double>(now_ms - item.created_ms) / kMillisPerDay);
      break;
    case FieldKind::kActive:
      value.kind = FieldValue::Kind::kBool;
      value.boolean = item.active;
      break;
    case FieldKind::kAttribute: {
      auto it = std::lower_bound(item.attributes.begin(), item.attributes.end(), node.attribute,
                                 [](const auto& entry, const std::string& key) { return entry.first < key; });
      if (it == item.attributes.end() || it->first != node.attribute) break;
      if (const auto* s = std::get_if<std::string>(&it->second)) {
        text(*s);
      } else if (const auto* d = std::get_if<double>(&it->second)) {
        number(*d);
      } else if (const auto* b = std::get_if<bool>(&it->second)) {
        value.kind = FieldValue::Kind::kBool;
        value.boolean = *b;
      } else if (const auto* l = std::get_if<std::vector<std::string>>(&it->second)) {
        value.kind = FieldValue::Kind::kTextList;
        value.list = l;
      }
      break;
    }
  }
  return value;
}

bool ContainsIgnoreCase(std::string_view text, std::string_view part) {
  if (part.empty()) return true;
  for (size_t i = 0; i + part.size() <= text.size(); ++i) {
    if (EqualsIgnoreCase(text.substr(i, part.size()), part)) return true;
  }
  return false;
}

// Whether one scalar value equals a literal.
bool ScalarEquals(FieldValue::Kind kind, std::string_view text, double number, bool boolean, const Literal& literal) {
  switch (kind) {
    case FieldValue::Kind::kText:
      if (const auto* s = std::get_if<std::string>(&literal)) return EqualsIgnoreCase(text, *s);
      return false;
    case FieldValue::Kind::kNumber:
      if (const auto* d = std::get_if<double>(&literal)) return std::abs(number - *d) <= 1e-9 * std::max(1.0, std::abs(*d));
      return false;
    case FieldValue::Kind::kBool:
      if (const auto* b = std::get_if<bool>(&literal)) return boolean == *b;
      return false;
    default:
      return false;
  }
}

// Whether the value (any element of a list) equals any of the literals.
bool AnyEquals(const FieldValue& value, const std::vector<Literal>& literals) {
  for (const Literal& literal : literals) {
    if (value.kind == FieldValue::Kind::kTextList) {
      for (const std::string& element : *value.list) {
        if (ScalarEquals(FieldValue::Kind::kText, element, 0, false, literal)) return true;
      }
    } else if (ScalarEquals(value.kind, value.text, value.number, value.boolean, literal)) {
      return true;
    }
  }
  return false;
}

bool Evaluate(const Node& node, const Item& item, int64_t now_ms) {
  switch (node.kind) {
    case Node::Kind::kConstant: return node.constant;
    case Node::Kind::kNot: return !Evaluate(*node.children[0], item, now_ms);
    case Node::Kind::kAnd:
      for (const auto& child : node.children) {
        if (!Evaluate(*child, item, now_ms)) return false;
      }
      return true;
    case Node::Kind::kOr:
      for (const auto& child : node.children) {
        if (Evaluate(*child, item, now_ms)) return true;
      }
      return false;
    case Node::Kind::kTruth: {
      FieldValue value = Read(node, item, now_ms);
      return value.kind == FieldValue::Kind::kBool && value.boolean;
    }
    case Node::Kind::kCompare: break;
  }
  const FieldValue value = Read(node, item, now_ms);
  if (value.kind == FieldValue::Kind::kMissing) return false;
  switch (node.op) {
    case Op::kEq:
    case Op::kIn: return AnyEquals(value, node.values);
    case Op::kNe: return !AnyEquals(value, node.values);
    case Op::kContains: {
      const std::string& part = std::get<std::string>(node.values[0]);
      if (value.kind == FieldValue::Kind::kText) return ContainsIgnoreCase(value.text, part);
      if (value.kind == FieldValue::Kind::kTextList) {
        for (const std::string& element : *value.list) {
          if (ContainsIgnoreCase(element, part)) return true;
        }
      }
      return false;
    }
    default: {
      const auto* limit = std::get_if<double>(&node.values[0]);
      if (value.kind != FieldValue::Kind::kNumber || limit == nullptr) return false;
      switch (node.op) {
        case Op::kLt: return value.number < *limit;
        case Op::kLe: return value.number <= *limit;
        case Op::kGt: return value.number > *limit;
        default: return value.number >= *limit;
      }
    }
  }
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  Result<std::unique_ptr<Node>> ParseAll() {
    VITRINA_ASSIGN_OR_RETURN(std::unique_ptr<Node> root, ParseOr());
    if (Peek().kind != TokenKind::kEnd) {
      return ErrorAt(Peek().column, "expected 'and', 'or' or the end, got " + Describe(Peek()));
    }
    return root;
  }

 private:
  const Token& Peek() const { return tokens_[position_]; }
  const Token& Next() { return tokens_[position_ == tokens_.size() - 1 ? position_ : position_++]; }
  bool IsWord(const Token& token, std::string_view word) const {
    return token.kind == TokenKind::kIdentifier && EqualsIgnoreCase(token.text, word);
  }
  bool IsOperator(const Token& token, std::string_view op) const {
    return token.kind == TokenKind::kOperator && token.text == op;
  }
  static std::string Describe(const Token& token) {
    switch (token.kind) {
      case TokenKind::kEnd: return "the end of the expression";
      case TokenKind::kString: return "the text \"" + PrintableAscii(token.text, 40) + "\"";
      default: return "'" + PrintableAscii(token.text, 40) + "'";
    }
  }

  Result<std::unique_ptr<Node>> ParseOr() {
    VITRINA_ASSIGN_OR_RETURN(std::unique_ptr<Node> left, ParseAnd());
    if (!IsWord(Peek(), "or") && !IsOperator(Peek(), "||")) return left;
    auto node = std::make_unique<Node>();
    node->kind = Node::Kind::kOr;
    node->children.push_back(std::move(left));
    while (IsWord(Peek(), "or") || IsOperator(Peek(), "||")) {
      Next();
      VITRINA_ASSIGN_OR_RETURN(std::unique_ptr<Node> right, ParseAnd());
      node->children.push_back(std::move(right));
    }
    return node;
  }

  Result<std::unique_ptr<Node>> ParseAnd() {
    VITRINA_ASSIGN_OR_RETURN(std::unique_ptr<Node> left, ParseNot());
    if (!IsWord(Peek(), "and") && !IsOperator(Peek(), "&&")) return left;
    auto node = std::make_unique<Node>();
    node->kind = Node::Kind::kAnd;
    node->children.push_back(std::move(left));
    while (IsWord(Peek(), "and") || IsOperator(Peek(), "&&")) {
      Next();
      VITRINA_ASSIGN_OR_RETURN(std::unique_ptr<Node> right, ParseNot());
      node->children.push_back(std::move(right));
    }
    return node;
  }

  // Nesting (brackets and "not") is bounded, so that recursion here, in
  // evaluation and in destruction cannot overflow the stack.
  Status Nest(size_t column) {
    if (++depth_ > Expression::kMaxNesting) {
      return ErrorAt(column, "nested deeper than " + std::to_string(Expression::kMaxNesting) +
                                 " levels of brackets and 'not'");
    }
    return Status::OK();
  }

  Result<std::unique_ptr<Node>> ParseNot() {
    if (IsWord(Peek(), "not") || IsOperator(Peek(), "!")) {
      VITRINA_RETURN_IF_ERROR(Nest(Peek().column));
      Next();
      VITRINA_ASSIGN_OR_RETURN(std::unique_ptr<Node> inner, ParseNot());
      --depth_;
      auto node = std::make_unique<Node>();
      node->kind = Node::Kind::kNot;
      node->children.push_back(std::move(inner));
      return node;
    }
    return ParsePrimary();
  }

  Result<std::unique_ptr<Node>> ParsePrimary() {
    const Token& token = Peek();
    if (token.kind == TokenKind::kOpen) {
      VITRINA_RETURN_IF_ERROR(Nest(token.column));
      Next();
      VITRINA_ASSIGN_OR_RETURN(std::unique_ptr<Node> inner, ParseOr());
      if (Peek().kind != TokenKind::kClose) return ErrorAt(Peek().column, "expected ')', got " + Describe(Peek()));
      Next();
      --depth_;
      return inner;
    }
    if (IsWord(token, "true") || IsWord(token, "false")) {
      Next();
      auto node = std::make_unique<Node>();
      node->kind = Node::Kind::kConstant;
      node->constant = IsWord(token, "true");
      return node;
    }
    // "Kitchen" in category: a literal looked up in a field.
    if (token.kind == TokenKind::kString || token.kind == TokenKind::kNumber) {
      const Token literal = Next();
      if (!IsWord(Peek(), "in")) {
        return ErrorAt(Peek().column, "expected 'in' after " + Describe(literal) + ", got " + Describe(Peek()));
      }
      Next();
      auto node = std::make_unique<Node>();
      node->kind = Node::Kind::kCompare;
      node->op = Op::kEq;
      VITRINA_ASSIGN_OR_RETURN(ValueType type, ParseField(node.get()));
      VITRINA_RETURN_IF_ERROR(CheckLiteral(literal, type, "in"));
      node->values.push_back(ToLiteral(literal));
      return node;
    }
    if (token.kind != TokenKind::kIdentifier) {
      return ErrorAt(token.column, "expected a field such as price or category, got " + Describe(token));
    }
    auto node = std::make_unique<Node>();
    node->kind = Node::Kind::kCompare;
    VITRINA_ASSIGN_OR_RETURN(ValueType type, ParseField(node.get()));
    const Token op = Peek();
    if (op.kind == TokenKind::kEnd || op.kind == TokenKind::kClose || IsWord(op, "and") || IsWord(op, "or") ||
        IsOperator(op, "&&") || IsOperator(op, "||")) {
      if (type == ValueType::kBool || type == ValueType::kAny) {  // `active`, `attributes.featured`
        node->kind = Node::Kind::kTruth;
        return node;
      }
      return ErrorAt(op.column, "expected a comparison (==, !=, <, <=, >, >=, in, contains) after the field, got " +
                                    Describe(op));
    }
    Next();
    if (IsWord(op, "in")) {
      node->op = Op::kIn;
      if (Peek().kind != TokenKind::kOpenList) {
        return ErrorAt(Peek().column, "expected a list such as [\"a\", \"b\"] after 'in', got " + Describe(Peek()));
      }
      Next();
      while (true) {
        const Token value = Next();
        VITRINA_RETURN_IF_ERROR(CheckLiteral(value, type, "in"));
        node->values.push_back(ToLiteral(value));
        if (Peek().kind == TokenKind::kComma) {
          Next();
          continue;
        }
        if (Peek().kind == TokenKind::kCloseList) {
          Next();
          break;
        }
        return ErrorAt(Peek().column, "expected ',' or ']' in the list, got " + Describe(Peek()));
      }
      return node;
    }
    if (IsWord(op, "contains")) {
      node->op = Op::kContains;
      const Token value = Next();
      if (value.kind != TokenKind::kString) {
        return ErrorAt(value.column, "expected a text in quotes after 'contains', got " + Describe(value));
      }
      if (type != ValueType::kText && type != ValueType::kAny) {
        return ErrorAt(op.column, "'contains' needs a text field, and this one holds " + TypeName(type));
      }
      node->values.push_back(value.text);
      return node;
    }
    static constexpr std::pair<std::string_view, Op> kComparisons[] = {
        {"==", Op::kEq}, {"=", Op::kEq}, {"!=", Op::kNe}, {"<", Op::kLt}, {"<=", Op::kLe}, {">", Op::kGt}, {">=", Op::kGe}};
    bool known = false;
    for (const auto& [text, value] : kComparisons) {
      if (IsOperator(op, text)) {
        node->op = value;
        known = true;
      }
    }
    if (!known) {
      return ErrorAt(op.column, "expected a comparison (==, !=, <, <=, >, >=, in, contains), got " + Describe(op));
    }
    const Token value = Next();
    const bool ordering = node->op != Op::kEq && node->op != Op::kNe;
    if (ordering && value.kind != TokenKind::kNumber) {
      return ErrorAt(value.column, "expected a number after '" + op.text + "', got " + Describe(value));
    }
    if (ordering && type != ValueType::kNumber && type != ValueType::kAny) {
      return ErrorAt(op.column, "'" + op.text + "' compares numbers, and this field holds " + TypeName(type));
    }
    VITRINA_RETURN_IF_ERROR(CheckLiteral(value, type, op.text));
    node->values.push_back(ToLiteral(value));
    return node;
  }

  static std::string TypeName(ValueType type) {
    switch (type) {
      case ValueType::kText: return "text";
      case ValueType::kNumber: return "numbers";
      case ValueType::kBool: return "true or false";
      default: return "any value";
    }
  }

  static Literal ToLiteral(const Token& token) {
    if (token.kind == TokenKind::kNumber) return token.number;
    if (token.kind == TokenKind::kIdentifier) return EqualsIgnoreCase(token.text, "true");
    return token.text;
  }

  Status CheckLiteral(const Token& token, ValueType type, std::string_view op) const {
    const bool is_bool = IsWord(token, "true") || IsWord(token, "false");
    if (token.kind != TokenKind::kString && token.kind != TokenKind::kNumber && !is_bool) {
      return ErrorAt(token.column, "expected a value (\"text\", a number, true or false) after '" + std::string(op) +
                                       "', got " + Describe(token));
    }
    const bool fits = type == ValueType::kAny || (type == ValueType::kText && token.kind == TokenKind::kString) ||
                      (type == ValueType::kNumber && token.kind == TokenKind::kNumber) ||
                      (type == ValueType::kBool && is_bool);
    if (!fits) return ErrorAt(token.column, "this field holds " + TypeName(type) + ", not " + Describe(token));
    return Status::OK();
  }

  // Reads a field name into `node`; returns its type.
  Result<ValueType> ParseField(Node* node) {
    const Token token = Peek();
    if (token.kind != TokenKind::kIdentifier) {
      return ErrorAt(token.column, "expected a field such as price or category, got " + Describe(token));
    }
    Next();
    const std::string name = AsciiLower(token.text);
    for (std::string_view prefix : {"attributes.", "attribute.", "attr."}) {
      if (name.starts_with(prefix)) {
        node->field = FieldKind::kAttribute;
        node->attribute = token.text.substr(prefix.size());
        if (node->attribute.empty()) return ErrorAt(token.column, "name the attribute: attributes.NAME");
        return ValueType::kAny;
      }
    }
    for (const FieldInfo& field : kFields) {
      if (name == field.name) {
        node->field = field.kind;
        return field.type;
      }
    }
    return ErrorAt(token.column, "unknown field '" + PrintableAscii(token.text, 40) + "' (fields: " + FieldList() + ")");
  }

  std::vector<Token> tokens_;
  size_t position_ = 0;
  size_t depth_ = 0;  // brackets and "not" open around the current token
};

}  // namespace

Expression::Expression(std::string text, std::unique_ptr<Node> root) : text_(std::move(text)), root_(std::move(root)) {}
Expression::Expression(Expression&&) noexcept = default;
Expression& Expression::operator=(Expression&&) noexcept = default;
Expression::~Expression() = default;

Result<Expression> Expression::Parse(std::string_view text) {
  if (TrimWhitespace(text).empty()) return ErrorAt(1, "the expression is empty");
  VITRINA_ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(text));
  Parser parser(std::move(tokens));
  VITRINA_ASSIGN_OR_RETURN(std::unique_ptr<Node> root, parser.ParseAll());
  return Expression(std::string(text), std::move(root));
}

bool Expression::Matches(const Item& item, int64_t now_ms) const { return Evaluate(*root_, item, now_ms); }

}  // namespace vitrina
