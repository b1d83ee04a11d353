#include "ingest/importer.h"

#include <chrono>
#include <cstdio>

#include "common/strings.h"
#include "ingest/import_util.h"
#include "schema/json.h"

namespace vitrina {
namespace import_internal {

Status BatchWriter::Add(Item item, uint64_t rows) {
  batch_.UpsertItem(std::move(item));
  rows_.push_back(rows);
  return MaybeFlush();
}

Status BatchWriter::Add(User user, uint64_t rows) {
  batch_.UpsertUser(std::move(user));
  rows_.push_back(rows);
  return MaybeFlush();
}

Status BatchWriter::Add(Event event, uint64_t rows) {
  batch_.AppendEvent(std::move(event));
  rows_.push_back(rows);
  return MaybeFlush();
}

Status BatchWriter::MaybeFlush() { return batch_.size() >= batch_records_ ? Flush() : Status::OK(); }

Status BatchWriter::Flush() {
  if (batch_.empty()) return Status::OK();
  VITRINA_RETURN_IF_ERROR(store_->Write(&batch_, &outcomes_));
  for (size_t i = 0; i < outcomes_.size(); ++i) {
    const WriteOutcome outcome = outcomes_[i];
    switch (batch_.ops()[i].kind) {
      case WriteBatch::Kind::kAppendEvent:
        if (outcome == WriteOutcome::kDuplicate) {
          ++report_->events_duplicate;
          report_->duplicates += rows_[i];
        } else {
          ++report_->events_stored;
          report_->accepted += rows_[i];
        }
        break;
      case WriteBatch::Kind::kUpsertItem:
        ++(outcome == WriteOutcome::kCreated ? report_->items_created : report_->items_updated);
        report_->accepted += rows_[i];
        break;
      case WriteBatch::Kind::kUpsertUser:
        ++(outcome == WriteOutcome::kCreated ? report_->users_created : report_->users_updated);
        report_->accepted += rows_[i];
        break;
      case WriteBatch::Kind::kDeleteItem:
        break;
    }
  }
  batch_.Clear();
  rows_.clear();
  return Status::OK();
}

void RecordRejected(ImportReport* report, const ImportOptions& options, const std::string& file, uint64_t line,
                    const RecordError& error) {
  ++report->rejected;
  if (report->errors.size() >= options.max_reported_errors) return;
  std::string text = file + ":" + std::to_string(line) + ": ";
  if (!error.field.empty()) text += error.field + ": ";
  text += error.message;
  report->errors.push_back(std::move(text));
}

void RecordSkipped(ImportReport* report, const std::string& reason) {
  ++report->skipped;
  ++report->skipped_by_reason[reason];
}

std::string ImportedEventId(std::string_view row_content, uint64_t line) {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%ci%016llx:%llu", kGeneratedEventIdPrefix,
                static_cast<unsigned long long>(Fnv1a64(row_content)), static_cast<unsigned long long>(line));
  return buffer;
}

namespace {

Result<ImportReport> ImportJsonl(Store* store, ByteSource* source, const ImportOptions& options, const Clock* clock,
                                 ProgressBar* progress) {
  ImportReport report;
  BatchWriter writer(store, options.batch_records, &report);
  RecordJsonParser parser;
  LineReader reader(source);
  const int64_t now = clock->NowMillis();
  std::string_view line;
  RecordError error;
  while (reader.Next(&line)) {
    if (TrimWhitespace(line).empty()) continue;
    ++report.rows;
    bool ok = false;
    switch (options.kind) {
      case RecordKind::kEvents: {
        Event event;
        ok = parser.ParseEvent(line, options.limits, now, &event, &error);
        if (ok && event.event_id.empty()) event.event_id = ImportedEventId(line, reader.line_number());
        if (ok) VITRINA_RETURN_IF_ERROR(writer.Add(std::move(event), 1));
        break;
      }
      case RecordKind::kItems: {
        Item item;
        ok = parser.ParseItem(line, options.limits, &item, &error);
        if (ok) VITRINA_RETURN_IF_ERROR(writer.Add(std::move(item), 1));
        break;
      }
      case RecordKind::kUsers: {
        User user;
        ok = parser.ParseUser(line, options.limits, &user, &error);
        if (ok) VITRINA_RETURN_IF_ERROR(writer.Add(std::move(user), 1));
        break;
      }
    }
    if (!ok) RecordRejected(&report, options, source->name(), reader.line_number(), error);
    if (progress != nullptr) progress->Update(report.rows, source->raw_bytes_read());
  }
  VITRINA_RETURN_IF_ERROR(reader.status());
  VITRINA_RETURN_IF_ERROR(writer.Flush());
  return report;
}

}  // namespace
}  // namespace import_internal

std::optional<ImportFormat> ParseImportFormat(std::string_view name) {
  if (name == "jsonl") return ImportFormat::kJsonl;
  if (name == "csv") return ImportFormat::kCsv;
  if (name == "online-retail") return ImportFormat::kOnlineRetail;
  return std::nullopt;
}

std::optional<RecordKind> ParseRecordKind(std::string_view name) {
  if (name == "events") return RecordKind::kEvents;
  if (name == "items") return RecordKind::kItems;
  if (name == "users") return RecordKind::kUsers;
  return std::nullopt;
}

std::string_view RecordKindName(RecordKind kind) {
  switch (kind) {
    case RecordKind::kEvents: return "events";
    case RecordKind::kItems: return "items";
    case RecordKind::kUsers: return "users";
  }
  return "?";
}

Result<ImportReport> ImportFile(Store* store, ByteSource* source, const ImportOptions& options, const Clock* clock,
                                ProgressBar* progress) {
  const auto start = std::chrono::steady_clock::now();
  Result<ImportReport> result = Status::Internal("unreachable");
  switch (options.format) {
    case ImportFormat::kJsonl:
      result = import_internal::ImportJsonl(store, source, options, clock, progress);
      break;
    case ImportFormat::kCsv:
      result = import_internal::ImportCsvRecords(store, source, options, clock, progress);
      break;
    case ImportFormat::kOnlineRetail:
      result = import_internal::ImportOnlineRetail(store, source, options, clock, progress);
      break;
  }
  if (!result.ok()) {
    (void)store->Sync();  // keep what was written before the error
    return result;
  }
  VITRINA_RETURN_IF_ERROR(store->Sync());
  result->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (progress != nullptr) progress->Finish(result->rows, source->raw_bytes_read());
  return result;
}

std::string FormatImportReport(const ImportReport& report, const ImportOptions& options) {
  std::string out;
  auto line = [&](const std::string& label, uint64_t value) {
    out += "  " + label + std::string(label.size() < 12 ? 12 - label.size() : 1, ' ') + FormatCount(value) + "\n";
  };
  char rate[64];
  std::snprintf(rate, sizeof rate, "%.2f s, %s rows/s", report.seconds,
                FormatCount(static_cast<uint64_t>(report.rows / std::max(report.seconds, 1e-9))).c_str());
  out += "imported in " + std::string(rate) + "\n";
  line("rows", report.rows);
  line("accepted", report.accepted);
  line("duplicates", report.duplicates);
  line("rejected", report.rejected);
  if (report.skipped > 0 || options.format == ImportFormat::kOnlineRetail) {
    line("skipped", report.skipped);
    for (const auto& [reason, count] : report.skipped_by_reason) {
      std::string n = FormatCount(count);
      out += std::string(n.size() < 10 ? 10 - n.size() : 0, ' ') + n + "  " + reason + "\n";
    }
  }
  out += "stored:\n";
  if (report.events_stored + report.events_duplicate > 0 || options.kind == RecordKind::kEvents) {
    out += "  events      " + FormatCount(report.events_stored) + " new, " + FormatCount(report.events_duplicate) +
           " already stored\n";
  }
  if (report.items_created + report.items_updated > 0) {
    out += "  items       " + FormatCount(report.items_created) + " new, " + FormatCount(report.items_updated) +
           " updated\n";
  }
  if (report.users_created + report.users_updated > 0) {
    out += "  users       " + FormatCount(report.users_created) + " new, " + FormatCount(report.users_updated) +
           " updated\n";
  }
  if (!report.errors.empty()) {
    out += "first rejected rows:\n";
    for (const auto& error : report.errors) out += "  " + error + "\n";
    if (report.rejected > report.errors.size()) {
      out += "  ... and " + FormatCount(report.rejected - report.errors.size()) + " more\n";
    }
  }
  return out;
}

}  // namespace vitrina
