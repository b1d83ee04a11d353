// Business rules: what marketers change without code or restart, applied
// to every list the engine returns (recommendations now, search later).
//
//   filter      keep only items matching `expression`
//   boost       items matching `expression` move up: relevance x `weight`
//   bury        items matching `expression` move down: relevance / `weight`
//   pin         `items` at `position` (1-based) and after, in that order
//   block       never `items`, nor items matching `expression`
//   diversity   at most `max_items` items per value of `attribute`
//               (category, brand or attributes.NAME)
//   repurchase  items matching `expression` (all when absent) that the
//               shopper bought within `window_days` are left out; bought
//               earlier, they may be recommended again
//
// Each rule may be limited to some scenarios and to a time window, and
// switched off without being deleted. A RuleSet is an immutable, versioned
// set of parsed rules; RuleBook (rule_book.h) keeps the current one.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json_fields.h"
#include "common/json_writer.h"
#include "common/status.h"
#include "rules/expression.h"
#include "schema/types.h"

namespace vitrina {

enum class RuleKind { kFilter, kBoost, kBury, kPin, kBlock, kDiversity, kRepurchase };
std::string_view RuleKindName(RuleKind kind);

struct Rule {
  std::string id;
  std::string name;
  RuleKind kind = RuleKind::kFilter;
  bool enabled = true;
  std::vector<std::string> scenarios;  // empty: every scenario
  int64_t starts_ms = 0;               // 0: no start
  int64_t ends_ms = 0;                 // 0: no end
  std::string expression;              // filter, boost, bury, block, repurchase
  double weight = 0;                   // boost, bury: > 1
  std::vector<std::string> items;      // pin, block
  int position = 0;                    // pin: 1-based
  std::string attribute;               // diversity
  int max_items = 0;                   // diversity
  double window_days = 0;              // repurchase
  // Kept by the server.
  int64_t revision = 0;                // 1 when created, +1 on each update
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  std::string updated_by;
};

// Why a rule was refused: the JSON field at fault and what is wrong.
// Why a rule was refused: the field ("expression", "weight", ...) and what
// is wrong ("at column 9: expected a number after '<', got ...").
using RuleError = FieldError;

// Parses a rule as the API takes it (server-kept fields are ignored) and
// checks it completely: kind-specific fields, the expression, scenario
// names against `scopes` (the names rules may be limited to). Unknown
// fields are refused, with the closest known name suggested.
std::optional<Rule> ParseRule(std::string_view json, const std::vector<std::string>& scopes, RuleError* error);
void WriteRuleJson(const Rule& rule, JsonWriter* w);

// One rule, parsed and ready to apply.
struct CompiledRule {
  Rule rule;
  std::optional<Expression> expression;
};

// What a rule did to one item of a list.
struct RuleEffect {
  const Rule* rule = nullptr;
  std::string effect;  // "boost x1.5", "pinned at 1", ...
};

// Immutable once built; share freely between threads.
class RuleSet {
 public:
  RuleSet() = default;
  // Rules must be valid (ParseRule accepted them).
  RuleSet(int64_t version, std::vector<Rule> rules);

  int64_t version() const { return version_; }
  const std::vector<CompiledRule>& rules() const { return rules_; }
  const CompiledRule* Find(std::string_view id) const;

  // The enabled rules for `scope` at `now_ms`.
  std::vector<const CompiledRule*> InEffect(std::string_view scope, int64_t now_ms) const;

 private:
  int64_t version_ = 0;
  std::vector<CompiledRule> rules_;
};

// The rules in effect for one request, applied to its list.
class RuleScope {
 public:
  RuleScope(std::vector<const CompiledRule*> rules, int64_t now_ms);

  bool empty() const { return rules_.empty(); }
  // Whether any rule reorders or thins the list (boost, bury, diversity):
  // then the whole candidate list must be read, not only its head.
  bool reorders() const { return reorders_; }

  // Whether `item` may be shown at all: not blocked, passes every filter.
  bool Admits(const Item& item) const { return Refuses(item) == nullptr; }
  // The first block or filter rule that keeps `item` out, or null.
  const Rule* Refuses(const Item& item) const;
  // Whether a block rule keeps `item` out (pinned items are checked only
  // against these).
  bool Blocks(const Item& item) const { return Blocker(item) != nullptr; }
  // The first block rule that keeps `item` out, or null.
  const Rule* Blocker(const Item& item) const;
  bool has_repurchase() const { return has_repurchase_; }
  // Whether a repurchase rule covers the item, and then whether a purchase
  // at `bought_ms` still keeps it out.
  std::optional<bool> RepurchaseExcludes(const Item& item, int64_t bought_ms) const;
  // Relevance factor from boosts and buries; appends their effects.
  double Boost(const Item& item, std::vector<RuleEffect>* effects) const;

  // Diversity caps: which attribute values an item counts against.
  struct Cap {
    const CompiledRule* rule;
    int max_items;
  };
  const std::vector<Cap>& caps() const { return caps_; }
  // The item's value of the cap's attribute (lower-cased, "" when none).
  static std::vector<std::string> CapValues(const Cap& cap, const Item& item);

  // Pinned item ids with their 0-based positions, in position order.
  struct Pin {
    const CompiledRule* rule;
    std::string item_id;
    size_t position;
  };
  const std::vector<Pin>& pins() const { return pins_; }

 private:
  std::vector<const CompiledRule*> rules_;
  int64_t now_ms_;
  bool reorders_ = false;
  bool has_repurchase_ = false;
  std::vector<Cap> caps_;
  std::vector<Pin> pins_;
};

}  // namespace vitrina
