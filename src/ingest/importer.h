// Bulk import: `vitrina import`. Reads JSONL, CSV or the UCI Online Retail
// file into a Store in large batches and reports, per row, what happened.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/byte_source.h"
#include "common/clock.h"
#include "common/progress.h"
#include "common/status.h"
#include "schema/validate.h"
#include "storage/store.h"

namespace vitrina {

enum class ImportFormat { kJsonl, kCsv, kOnlineRetail };
enum class RecordKind { kEvents, kItems, kUsers };

std::optional<ImportFormat> ParseImportFormat(std::string_view name);
std::optional<RecordKind> ParseRecordKind(std::string_view name);
std::string_view RecordKindName(RecordKind kind);

struct ImportOptions {
  ImportFormat format = ImportFormat::kJsonl;
  RecordKind kind = RecordKind::kEvents;  // for jsonl and csv
  size_t batch_records = 5000;            // records per Store::Write
  size_t max_reported_errors = 20;        // rejected rows kept with reasons
  Limits limits;
};

struct ImportReport {
  uint64_t rows = 0;        // data rows / lines read (header and blank lines excluded)
  uint64_t accepted = 0;    // rows stored (for Online Retail: rows in stored events)
  uint64_t duplicates = 0;  // rows whose event was already stored
  uint64_t rejected = 0;    // rows with bad data
  uint64_t skipped = 0;     // rows deliberately left out (Online Retail rules)
  std::map<std::string, uint64_t> skipped_by_reason;
  std::vector<std::string> errors;  // the first max_reported_errors: "file:line: field: message"

  // What was written.
  uint64_t events_stored = 0;
  uint64_t events_duplicate = 0;
  uint64_t items_created = 0;
  uint64_t items_updated = 0;
  uint64_t users_created = 0;
  uint64_t users_updated = 0;
  double seconds = 0;
};

// Imports everything `source` holds. Row-level problems are counted in the
// report; a Status error means the input could not be read at all (I/O,
// broken compression, a CSV header naming unknown columns) or the store
// failed, and names file and line. Everything written before an error
// stays written. Calls store->Sync() at the end. `progress` may be null.
Result<ImportReport> ImportFile(Store* store, ByteSource* source, const ImportOptions& options, const Clock* clock,
                                ProgressBar* progress);

// Multi-line human summary of a report, as `vitrina import` prints it.
std::string FormatImportReport(const ImportReport& report, const ImportOptions& options);

}  // namespace vitrina
