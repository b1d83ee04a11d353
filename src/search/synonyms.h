// Synonyms the shop edits through the API (/v1/search/synonyms): groups of
// words a query may use for one another ("ноутбук", "laptop", "notebook"),
// or one-way expansions (a query for "кроссы" also finds "кроссовки", not
// the other way round). Words are compared by stem, so every form of a
// word ("ноутбуки", "laptops") expands too.
//
// A synonym is one word: a multi-word phrase is refused, naming the term.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/json_writer.h"
#include "common/status.h"
#include "search/lexical_index.h"
#include "storage/store.h"

namespace vitrina {

struct SynonymGroup {
  std::string id;
  std::vector<std::string> terms;  // equivalent words (2 or more), as written
  std::string input;               // one-way: only this word expands to `terms`; empty: every term to the others
};

// Why a group was refused: the JSON field at fault and what is wrong.
struct SynonymError {
  std::string field;  // "terms[1]", "input", ...
  std::string message;
};

// Parses and checks a group as the API takes it ({"terms": [...], "input": "..."}).
std::optional<SynonymGroup> ParseSynonymGroup(std::string_view json, SynonymError* error);
void WriteSynonymGroupJson(const SynonymGroup& group, JsonWriter* w);

// Immutable, versioned; share freely between threads.
class SynonymSet : public SynonymLookup {
 public:
  SynonymSet() = default;
  SynonymSet(int64_t version, std::vector<SynonymGroup> groups);

  int64_t version() const { return version_; }
  const std::vector<SynonymGroup>& groups() const { return groups_; }
  const SynonymGroup* Group(std::string_view id, size_t* index = nullptr) const;

  const std::vector<std::string>* Find(std::string_view stem) const override;

 private:
  int64_t version_ = 0;
  std::vector<SynonymGroup> groups_;
  std::unordered_map<std::string, std::vector<std::string>> expansions_;  // stem -> equivalent stems
};

// The shop's synonyms, stored beside its data. Thread-safe.
class SynonymBook {
 public:
  static constexpr size_t kMaxGroups = 10000;

  SynonymBook(Store* store, const Clock* clock)
      : store_(store), clock_(clock), current_(std::make_shared<const SynonymSet>()) {}

  // Reads the stored synonyms (none on a new store). Groups that cannot be
  // read are left out, the stored document copied aside
  // (SetAsideDocument), and each problem added to *problems for the log.
  // Errors are the store's own.
  Status Load(std::vector<std::string>* problems = nullptr);
  std::shared_ptr<const SynonymSet> current() const { return current_.load(); }

  // Adds `group` (its id, or a new one when empty). AlreadyExists when the
  // id is taken; ResourceExhausted beyond kMaxGroups.
  Result<SynonymGroup> Create(SynonymGroup group);
  // NotFound when absent.
  Result<SynonymGroup> Replace(std::string_view id, SynonymGroup group);
  Status Delete(std::string_view id);

 private:
  Status Commit(std::vector<SynonymGroup> groups, int64_t next_id);  // REQUIRES: mutex_ held

  Store* store_;
  const Clock* clock_;
  std::atomic<std::shared_ptr<const SynonymSet>> current_;
  std::mutex mutex_;     // one change at a time
  int64_t next_id_ = 1;  // GUARDED_BY(mutex_)
};

}  // namespace vitrina
