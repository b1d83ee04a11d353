#include "search/synonyms.h"

#include <simdjson.h>

#include <algorithm>

#include "common/json_fields.h"
#include "common/strings.h"
#include "text/analyzer.h"

namespace vitrina {
namespace {

constexpr std::string_view kSynonymsKey = "search/synonyms";
constexpr size_t kMaxTerms = 20;
constexpr size_t kMaxTermBytes = 64;

bool Fail(SynonymError* error, std::string field, std::string message) {
  error->field = std::move(field);
  error->message = std::move(message);
  return false;
}

// The one word of a term, or false with the error.
bool CheckTerm(std::string_view term, const std::string& field, SynonymError* error) {
  if (term.size() > kMaxTermBytes) return Fail(error, field, "at most 64 bytes");
  const std::vector<Token> tokens = Analyze(term);
  if (tokens.empty()) return Fail(error, field, "has no letters or digits");
  if (tokens.size() > 1) {
    return Fail(error, field,
                "'" + std::string(TruncateUtf8(term, 40)) + "' is " + std::to_string(tokens.size()) +
                    " words; a synonym is one word");
  }
  return true;
}

std::string StemOf(std::string_view term) {
  const std::vector<Token> tokens = Analyze(term);
  return tokens.empty() ? std::string() : tokens[0].stem;
}

std::optional<SynonymGroup> ReadGroup(simdjson::dom::element root, SynonymError* error) {
  simdjson::dom::object object;
  if (root.get(object) != simdjson::SUCCESS) {
    Fail(error, "", "expected a JSON object with \"terms\"");
    return std::nullopt;
  }
  static constexpr std::string_view kFields[] = {"id", "terms", "input"};
  FieldError unknown;
  if (!CheckKnownFields(object, kFields, {}, "", &unknown)) {
    Fail(error, unknown.field, unknown.message + " (fields: terms, input, id)");
    return std::nullopt;
  }
  SynonymGroup group;
  for (auto [key, value] : object) {
    if (key == "id") {
      std::string_view id;
      if (value.get(id) != simdjson::SUCCESS || id.empty() || id.size() > 64 || HasControlChar(id)) {
        Fail(error, "id", "expected text of 1 to 64 bytes");
        return std::nullopt;
      }
      group.id = std::string(id);
    } else if (key == "terms") {
      simdjson::dom::array array;
      if (value.get(array) != simdjson::SUCCESS) {
        Fail(error, "terms", "expected a list of words");
        return std::nullopt;
      }
      for (simdjson::dom::element element : array) {
        const std::string field = "terms[" + std::to_string(group.terms.size()) + "]";
        std::string_view term;
        if (element.get(term) != simdjson::SUCCESS) {
          Fail(error, field, "expected text");
          return std::nullopt;
        }
        if (!CheckTerm(term, field, error)) return std::nullopt;
        group.terms.emplace_back(term);
      }
    } else if (key == "input") {
      std::string_view input;
      if (value.get(input) != simdjson::SUCCESS) {
        Fail(error, "input", "expected text");
        return std::nullopt;
      }
      if (!CheckTerm(input, "input", error)) return std::nullopt;
      group.input = std::string(input);
    } else {
      Fail(error, std::string(PrintableAscii(key, 40)), "unknown field (expected terms, input or id)");
      return std::nullopt;
    }
  }
  const size_t needed = group.input.empty() ? 2 : 1;
  if (group.terms.size() < needed || group.terms.size() > kMaxTerms) {
    Fail(error, "terms",
         group.input.empty() ? "expected 2 to 20 equivalent words" : "expected 1 to 20 words the input expands to");
    return std::nullopt;
  }
  return group;
}

}  // namespace

std::optional<SynonymGroup> ParseSynonymGroup(std::string_view json, SynonymError* error) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS) {
    Fail(error, "", "the body is not valid JSON");
    return std::nullopt;
  }
  return ReadGroup(root, error);
}

void WriteSynonymGroupJson(const SynonymGroup& group, JsonWriter* w) {
  w->BeginObject().Key("id").String(group.id).Key("terms").BeginArray();
  for (const std::string& term : group.terms) w->String(term);
  w->EndArray();
  if (!group.input.empty()) w->Key("input").String(group.input);
  w->EndObject();
}

SynonymSet::SynonymSet(int64_t version, std::vector<SynonymGroup> groups)
    : version_(version), groups_(std::move(groups)) {
  auto link = [&](const std::string& from, const std::string& to) {
    if (from.empty() || to.empty() || from == to) return;
    std::vector<std::string>& list = expansions_[from];
    if (std::find(list.begin(), list.end(), to) == list.end()) list.push_back(to);
  };
  for (const SynonymGroup& group : groups_) {
    std::vector<std::string> stems;
    for (const std::string& term : group.terms) stems.push_back(StemOf(term));
    if (!group.input.empty()) {
      for (const std::string& stem : stems) link(StemOf(group.input), stem);
      continue;
    }
    for (const std::string& from : stems) {
      for (const std::string& to : stems) link(from, to);
    }
  }
}

const SynonymGroup* SynonymSet::Group(std::string_view id, size_t* index) const {
  for (size_t i = 0; i < groups_.size(); ++i) {
    if (groups_[i].id == id) {
      if (index != nullptr) *index = i;
      return &groups_[i];
    }
  }
  return nullptr;
}

const std::vector<std::string>* SynonymSet::Find(std::string_view stem) const {
  if (expansions_.empty()) return nullptr;
  auto it = expansions_.find(std::string(stem));
  return it == expansions_.end() ? nullptr : &it->second;
}

Status SynonymBook::Load(std::vector<std::string>* problems) {
  std::vector<std::string> unreported;
  if (problems == nullptr) problems = &unreported;
  std::lock_guard lock(mutex_);
  auto stored = store_->GetDocument(kSynonymsKey);
  if (stored.status().IsNotFound()) return Status::OK();
  VITRINA_RETURN_IF_ERROR(stored.status());
  // What cannot be read is kept aside; the server starts with the rest.
  auto set_aside = [&](const std::string& why) -> Status {
    VITRINA_ASSIGN_OR_RETURN(std::string aside, SetAsideDocument(store_, kSynonymsKey, *stored, clock_->NowMillis()));
    problems->push_back("search synonyms: " + why + "; the stored groups are kept as " + aside);
    return store_->PutDocuments({{std::string(kSynonymsKey), ""}});
  };
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::dom::array array;
  std::string text;
  bool repaired = false;
  int64_t version = 0, next_id = 0;
  if (!ParseStoredJson(&parser, *stored, &text, &root, &repaired) || root["version"].get(version) != simdjson::SUCCESS ||
      root["next_id"].get(next_id) != simdjson::SUCCESS || root["groups"].get(array) != simdjson::SUCCESS) {
    return set_aside("the stored synonyms are not readable; starting without them");
  }
  std::vector<SynonymGroup> groups;
  std::vector<std::string> skipped;
  size_t position = 0;
  for (simdjson::dom::element element : array) {
    SynonymError error;
    std::optional<SynonymGroup> group = ReadGroup(element, &error);
    if (group) {
      groups.push_back(std::move(*group));
    } else {
      skipped.push_back("group " + std::to_string(position) + " (" + error.field + ": " + error.message + ")");
    }
    ++position;
  }
  next_id_ = next_id;
  if (repaired || !skipped.empty()) {
    VITRINA_RETURN_IF_ERROR(set_aside(repaired ? "bytes that were not UTF-8 in the stored synonyms became U+FFFD"
                                               : "left out unreadable " + Join(skipped, ", ")));
  }
  current_.store(std::make_shared<const SynonymSet>(version, groups));
  // What was read becomes the stored document (one version on), so the
  // next start is clean.
  if (repaired || !skipped.empty()) return Commit(std::move(groups), next_id);
  return Status::OK();
}

Status SynonymBook::Commit(std::vector<SynonymGroup> groups, int64_t next_id) {
  const int64_t version = current_.load()->version() + 1;
  std::string json;
  JsonWriter w(&json);
  w.BeginObject().Key("version").Int(version).Key("next_id").Int(next_id).Key("groups").BeginArray();
  for (const SynonymGroup& group : groups) WriteSynonymGroupJson(group, &w);
  w.EndArray().EndObject();
  VITRINA_RETURN_IF_ERROR(store_->PutDocuments({{std::string(kSynonymsKey), json}}));
  next_id_ = next_id;
  current_.store(std::make_shared<const SynonymSet>(version, std::move(groups)));
  return Status::OK();
}

Result<SynonymGroup> SynonymBook::Create(SynonymGroup group) {
  std::lock_guard lock(mutex_);
  const std::shared_ptr<const SynonymSet> set = current_.load();
  if (set->groups().size() >= kMaxGroups) {
    return Status::ResourceExhausted("at most " + std::to_string(kMaxGroups) + " synonym groups");
  }
  int64_t next_id = next_id_;
  if (group.id.empty()) {
    do {
      group.id = "s" + std::to_string(next_id++);
    } while (set->Group(group.id) != nullptr);
  } else if (set->Group(group.id) != nullptr) {
    return Status::AlreadyExists("id: a synonym group '" + group.id + "' exists already (PUT replaces it)");
  }
  std::vector<SynonymGroup> groups = set->groups();
  groups.push_back(group);
  VITRINA_RETURN_IF_ERROR(Commit(std::move(groups), next_id));
  return group;
}

Result<SynonymGroup> SynonymBook::Replace(std::string_view id, SynonymGroup group) {
  std::lock_guard lock(mutex_);
  const std::shared_ptr<const SynonymSet> set = current_.load();
  size_t index = 0;
  if (set->Group(id, &index) == nullptr) return Status::NotFound("id: no synonym group '" + std::string(id) + "'");
  if (!group.id.empty() && group.id != id) {
    return Status::InvalidArgument("id: the body's id '" + group.id + "' is not the path's '" + std::string(id) + "'");
  }
  group.id = std::string(id);
  std::vector<SynonymGroup> groups = set->groups();
  groups[index] = group;
  VITRINA_RETURN_IF_ERROR(Commit(std::move(groups), next_id_));
  return group;
}

Status SynonymBook::Delete(std::string_view id) {
  std::lock_guard lock(mutex_);
  const std::shared_ptr<const SynonymSet> set = current_.load();
  size_t index = 0;
  if (set->Group(id, &index) == nullptr) return Status::NotFound("id: no synonym group '" + std::string(id) + "'");
  std::vector<SynonymGroup> groups = set->groups();
  groups.erase(groups.begin() + static_cast<ptrdiff_t>(index));
  return Commit(std::move(groups), next_id_);
}

}  // namespace vitrina
