// The business rules in force, their history and who changed them.
//
// Every change replaces the current RuleSet atomically (serving picks it
// up on its next request) and is stored, together with an audit entry
// (who, when, what it was before and after), in one durable write of the
// store's documents: "rules/set" and "rules/audit/<sequence>".
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "rules/rules.h"
#include "storage/store.h"

namespace vitrina {

struct RuleAuditEntry {
  int64_t sequence = 0;
  int64_t at_ms = 0;
  std::string actor;
  std::string action;  // "create", "update", "delete"
  std::string rule_id;
  int64_t version = 0;  // of the rule set after the change
  std::optional<Rule> before, after;
};
void WriteRuleAuditJson(const RuleAuditEntry& entry, JsonWriter* w);

// Thread-safe.
class RuleBook {
 public:
  // `scopes`: the names rules may be limited to (scenarios, ...). `store`
  // and `clock` must outlive the book.
  RuleBook(Store* store, const Clock* clock, std::vector<std::string> scopes);

  // Reads the stored rules (none on a new store). A stored set that cannot
  // be read in full is copied aside (SetAsideDocument) and what can be read
  // serves; each such problem is added to *problems for the log. Errors
  // are the store's own.
  Status Load(std::vector<std::string>* problems = nullptr);

  std::shared_ptr<const RuleSet> current() const { return current_.load(); }
  const std::vector<std::string>& scopes() const { return scopes_; }

  // Parses and checks a rule for this book (ParseRule with its scopes).
  std::optional<Rule> Parse(std::string_view json, RuleError* error) const { return ParseRule(json, scopes_, error); }

  // Adds `rule` (its id, or a new one when empty). AlreadyExists when the id is taken.
  Result<Rule> Create(Rule rule, std::string_view actor);
  // Replaces rule `id` with `rule` (whose id must be empty or `id`). NotFound when absent.
  Result<Rule> Replace(std::string_view id, Rule rule, std::string_view actor);
  // NotFound when absent.
  Status Delete(std::string_view id, std::string_view actor);

  // Audit entries, newest first, of one rule (or all when `rule_id` is empty), at most `limit`.
  Result<std::vector<RuleAuditEntry>> Audit(std::string_view rule_id, size_t limit) const;

 private:
  // Stores the new set with its audit entry and swaps it in. REQUIRES: mutex_ held.
  Status Commit(std::vector<Rule> rules, RuleAuditEntry entry);

  Store* store_;
  const Clock* clock_;
  const std::vector<std::string> scopes_;
  std::atomic<std::shared_ptr<const RuleSet>> current_;
  std::mutex mutex_;            // one change at a time
  int64_t next_sequence_ = 1;   // GUARDED_BY(mutex_)
};

}  // namespace vitrina
