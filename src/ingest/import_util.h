// Pieces shared by the importers (internal to the ingest module).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ingest/importer.h"
#include "schema/validate.h"
#include "storage/store.h"

namespace vitrina::import_internal {

// Accumulates records and writes them in batches, tallying outcomes into
// the report. `rows` says how many input rows a record stands for: 1 for
// JSONL/CSV, the invoice lines of an Online Retail order, 0 for records
// derived from rows already counted (the Online Retail catalog).
class BatchWriter {
 public:
  BatchWriter(Store* store, size_t batch_records, ImportReport* report)
      : store_(store), batch_records_(batch_records), report_(report) {}

  Status Add(Item item, uint64_t rows);
  Status Add(User user, uint64_t rows);
  Status Add(Event event, uint64_t rows);
  Status Flush();

 private:
  Status MaybeFlush();

  Store* store_;
  size_t batch_records_;
  ImportReport* report_;
  WriteBatch batch_;
  std::vector<uint64_t> rows_;
  std::vector<WriteOutcome> outcomes_;
};

// Counts a rejected row and keeps its reason while there is room.
void RecordRejected(ImportReport* report, const ImportOptions& options, const std::string& file, uint64_t line,
                    const RecordError& error);

void RecordSkipped(ImportReport* report, const std::string& reason);

// The id given to an imported event that has none: derived from the row's
// content and line, so importing the same file again stores it once.
// Starts with '~', which client ids may not use.
std::string ImportedEventId(std::string_view row_content, uint64_t line);

Result<ImportReport> ImportCsvRecords(Store* store, ByteSource* source, const ImportOptions& options,
                                      const Clock* clock, ProgressBar* progress);
Result<ImportReport> ImportOnlineRetail(Store* store, ByteSource* source, const ImportOptions& options,
                                        const Clock* clock, ProgressBar* progress);

}  // namespace vitrina::import_internal
