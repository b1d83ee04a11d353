// LoadDataset: S3-Rec sequence files, and event files through the importer.
#include <simdjson.h>

#include <filesystem>
#include <unordered_map>

#include "common/byte_source.h"
#include "common/clock.h"
#include "common/strings.h"
#include "evaluation/evaluation.h"
#include "ingest/importer.h"
#include "storage/store.h"

namespace vitrina {
namespace {

Result<std::string> ReadAll(const std::string& path) {
  VITRINA_ASSIGN_OR_RETURN(std::unique_ptr<ByteSource> source, OpenByteSource(path));
  std::string data;
  char buffer[1 << 16];
  while (true) {
    VITRINA_ASSIGN_OR_RETURN(size_t n, source->Read(buffer, sizeof(buffer)));
    if (n == 0) break;
    data.append(buffer, n);
  }
  return data;
}

// "<dir>/Beauty.txt.zst" -> "<dir>/Beauty_item2attributes.json[.zst]", if present.
std::string AttributesPathFor(const std::string& sequences_path) {
  std::filesystem::path path(sequences_path);
  std::string stem = path.filename().string();
  for (std::string_view suffix : {".zst", ".txt"}) {
    if (stem.size() > suffix.size() && stem.ends_with(suffix)) stem.resize(stem.size() - suffix.size());
  }
  for (std::string_view ext : {".json", ".json.zst"}) {
    std::filesystem::path candidate = path.parent_path() / (stem + "_item2attributes" + std::string(ext));
    if (std::filesystem::exists(candidate)) return candidate.string();
  }
  return "";
}

Status LoadAttributes(const std::string& path, Dataset* data) {
  VITRINA_ASSIGN_OR_RETURN(std::string text, ReadAll(path));
  std::unordered_map<std::string_view, uint32_t> index_of;
  for (uint32_t i = 0; i < data->num_items(); ++i) index_of.emplace(data->items[i].id, i);
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(text).get(object) != simdjson::SUCCESS) {
    return Status::InvalidArgument(path + ": not a JSON object of item -> attribute ids");
  }
  for (auto [key, value] : object) {
    auto found = index_of.find(std::string_view(key));
    if (found == index_of.end()) continue;
    simdjson::dom::array attributes;
    if (value.get(attributes) != simdjson::SUCCESS) {
      return Status::InvalidArgument(path + ": item " + std::string(key) + ": attributes must be an array");
    }
    for (auto attribute : attributes) {
      int64_t id = 0;
      if (attribute.get(id) != simdjson::SUCCESS) {
        return Status::InvalidArgument(path + ": item " + std::string(key) + ": attribute ids must be integers");
      }
      data->items[found->second].tags.push_back(std::to_string(id));
    }
  }
  return Status::OK();
}

Result<Dataset> LoadS3Rec(const std::string& path) {
  VITRINA_ASSIGN_OR_RETURN(std::unique_ptr<ByteSource> source, OpenByteSource(path));
  LineReader lines(source.get());
  DatasetBuilder builder;
  std::string_view line;
  uint32_t session = 0;
  while (lines.Next(&line)) {
    std::vector<std::string_view> fields = Split(TrimWhitespace(line), " ");
    if (fields.size() == 1 && fields[0].empty()) continue;
    if (fields.size() < 2) {
      return Status::InvalidArgument(path + ":" + std::to_string(lines.line_number()) +
                                     ": expected 'user item item ...'");
    }
    ++session;
    std::string actor(fields[0]);
    for (size_t i = 1; i < fields.size(); ++i) {
      if (fields[i].empty() || !ParseInt64(fields[i])) {
        return Status::InvalidArgument(path + ":" + std::to_string(lines.line_number()) + ": item id '" +
                                       PrintableAscii(fields[i], 40) + "' is not an integer");
      }
      int64_t index = builder.FindItem(fields[i]);
      if (index < 0) index = builder.AddItem(ItemMeta{.id = std::string(fields[i])});
      // No timestamps in these files: the position keeps the order.
      builder.Add(actor, Interaction{.item = static_cast<uint32_t>(index), .time_ms = static_cast<int64_t>(i),
                                     .session = session});
    }
  }
  VITRINA_RETURN_IF_ERROR(lines.status());
  std::string attributes_path = AttributesPathFor(path);
  Dataset data = std::move(builder).Finish();
  if (!attributes_path.empty()) VITRINA_RETURN_IF_ERROR(LoadAttributes(attributes_path, &data));
  return data;
}

Result<Dataset> LoadThroughImporter(const std::string& path, ImportFormat format) {
  SystemClock clock;
  std::unique_ptr<Store> store = NewMemoryStore(&clock);
  VITRINA_ASSIGN_OR_RETURN(std::unique_ptr<ByteSource> source, OpenByteSource(path));
  ImportOptions options;
  options.format = format;
  options.kind = RecordKind::kEvents;
  VITRINA_ASSIGN_OR_RETURN(ImportReport report, ImportFile(store.get(), source.get(), options, &clock, nullptr));
  if (report.rejected > 0) {
    std::string first = report.errors.empty() ? "" : ": " + report.errors.front();
    return Status::InvalidArgument(std::to_string(report.rejected) + " rejected rows in " + path + first);
  }
  return BuildDatasetFromStore(*store);
}

}  // namespace

std::optional<DatasetFormat> ParseDatasetFormat(std::string_view name) {
  if (name == "s3rec") return DatasetFormat::kS3Rec;
  if (name == "online-retail") return DatasetFormat::kOnlineRetail;
  if (name == "jsonl") return DatasetFormat::kJsonl;
  return std::nullopt;
}

Result<Dataset> LoadDataset(const std::string& path, DatasetFormat format) {
  switch (format) {
    case DatasetFormat::kS3Rec:
      return LoadS3Rec(path);
    case DatasetFormat::kOnlineRetail:
      return LoadThroughImporter(path, ImportFormat::kOnlineRetail);
    case DatasetFormat::kJsonl:
      return LoadThroughImporter(path, ImportFormat::kJsonl);
  }
  return Status::Internal("unknown dataset format");
}

}  // namespace vitrina
