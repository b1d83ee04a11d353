// Generic CSV import of events, items or users. The header names the
// columns (docs/IMPORT.md); cells left empty are absent fields.
#include <algorithm>
#include <array>

#include "common/strings.h"
#include "ingest/csv_reader.h"
#include "ingest/import_util.h"

namespace vitrina::import_internal {
namespace {

bool Fail(RecordError* error, const char* code, const std::string& field, std::string message) {
  error->code = code;
  error->field = field;
  error->message = std::move(message);
  return false;
}

bool ToNumber(std::string_view text, const std::string& field, double* out, RecordError* error) {
  auto value = ParseDouble(text);
  if (!value) {
    return Fail(error, error_code::kWrongType, field,
                field + " must be a number, got \"" + std::string(TruncateUtf8(text, 64)) + "\"");
  }
  *out = *value;
  return true;
}

bool ToBool(std::string_view text, const std::string& field, bool* out, RecordError* error) {
  std::string lower = AsciiLower(text);
  if (lower == "true" || lower == "1" || lower == "yes") {
    *out = true;
    return true;
  }
  if (lower == "false" || lower == "0" || lower == "no") {
    *out = false;
    return true;
  }
  return Fail(error, error_code::kWrongType, field,
              field + " must be true or false, got \"" + std::string(TruncateUtf8(text, 64)) + "\"");
}

// One recognised column: its field name and, for "attributes.x" and
// "consent.x" columns, the key after the dot.
struct Column {
  int field = -1;
  std::string key;
};

constexpr std::array<std::string_view, 16> kEventColumns = {
    "event_id", "type",  "user_id", "session_id", "item_id", "quantity", "price",   "timestamp",
    "recommendation_id", "query", "value", "currency", "device",  "country",  "page", "channel"};
constexpr std::array<std::string_view, 16> kItemColumns = {
    "id",     "title",      "description", "category",  "brand",  "price", "currency", "stock",
    "active", "created_at", "old_price",   "image_url", "images", "url",   "group_id", "available"};
constexpr std::array<std::string_view, 2> kUserColumns = {"id", "created_at"};
constexpr int kAttributeColumn = 100;
constexpr int kConsentColumn = 101;

template <size_t N>
Status MapHeader(const std::vector<std::string_view>& header, const std::array<std::string_view, N>& names,
                 RecordKind kind, const std::string& file, std::vector<Column>* columns) {
  for (std::string_view raw : header) {
    std::string_view name = TrimWhitespace(raw);
    if (name.substr(0, 8) == "context.") name.remove_prefix(8);
    Column column;
    auto found = std::find(names.begin(), names.end(), name);
    if (found != names.end()) {
      column.field = static_cast<int>(found - names.begin());
    } else if (kind != RecordKind::kEvents && name.substr(0, 11) == "attributes." && name.size() > 11) {
      column.field = kAttributeColumn;
      column.key = std::string(name.substr(11));
    } else if (kind == RecordKind::kUsers && name.substr(0, 8) == "consent." && name.size() > 8) {
      column.field = kConsentColumn;
      column.key = std::string(name.substr(8));
    } else {
      std::string known;
      for (auto n : names) known += (known.empty() ? "" : ", ") + std::string(n);
      if (kind != RecordKind::kEvents) known += ", attributes.<name>";
      if (kind == RecordKind::kUsers) known += ", consent.<channel>";
      return Status::InvalidArgument(file + ":1: unknown column \"" + std::string(name) + "\" for " +
                                     std::string(RecordKindName(kind)) + "; known columns: " + known);
    }
    for (const Column& other : *columns) {
      if (other.field == column.field && other.key == column.key) {
        return Status::InvalidArgument(file + ":1: column \"" + std::string(name) + "\" appears twice");
      }
    }
    columns->push_back(std::move(column));
  }
  return Status::OK();
}

bool ParseEventRow(const std::vector<Column>& columns, const std::vector<std::string_view>& cells,
                   const ImportOptions& options, int64_t now, Event* event, RecordError* error) {
  *event = Event{};
  std::optional<double> quantity, price;
  bool has_type = false, has_timestamp = false;
  for (size_t i = 0; i < columns.size(); ++i) {
    std::string_view cell = cells[i];
    if (cell.empty()) continue;
    const std::string field(kEventColumns[columns[i].field]);
    double number = 0;
    switch (columns[i].field) {
      case 0: event->event_id = cell; break;
      case 1: {
        auto type = ParseEventType(TrimWhitespace(cell));
        if (!type) {
          return Fail(error, error_code::kUnknownEventType, "type",
                      "unknown event type \"" + std::string(TruncateUtf8(cell, 64)) + "\"");
        }
        event->type = *type;
        has_type = true;
        break;
      }
      case 2: event->user_id = cell; break;
      case 3: event->session_id = cell; break;
      case 4: event->item_id = cell; break;
      case 5:
        if (!ToNumber(cell, field, &number, error)) return false;
        quantity = number;
        break;
      case 6:
        if (!ToNumber(cell, field, &number, error)) return false;
        price = number;
        break;
      case 7:
        if (!ParseTimestampField(cell, field, &event->timestamp_ms, error)) return false;
        has_timestamp = true;
        break;
      case 8: event->recommendation_id = cell; break;
      case 9: event->query = cell; break;
      case 10:
        if (!ToNumber(cell, field, &number, error)) return false;
        event->value = number;
        break;
      case 11: event->currency = cell; break;
      case 12: event->context.device = cell; break;
      case 13: event->context.country = cell; break;
      case 14: event->context.page = cell; break;
      case 15: event->context.channel = cell; break;
    }
  }
  if (!has_type) return Fail(error, error_code::kMissingField, "type", "every event needs a type");
  if (!has_timestamp) event->timestamp_ms = now;
  event->received_ms = now;
  return ApplyItemShorthand(event, quantity, price, error) && ValidateEvent(*event, options.limits, now, error);
}

bool ParseItemRow(const std::vector<Column>& columns, const std::vector<std::string_view>& cells,
                  const ImportOptions& options, Item* item, RecordError* error) {
  *item = Item{};
  for (size_t i = 0; i < columns.size(); ++i) {
    std::string_view cell = cells[i];
    if (cell.empty()) continue;
    if (columns[i].field == kAttributeColumn) {
      item->attributes.emplace_back(columns[i].key, std::string(cell));
      continue;
    }
    const std::string field(kItemColumns[columns[i].field]);
    double number = 0;
    switch (columns[i].field) {
      case 0: item->id = cell; break;
      case 1: item->title = cell; break;
      case 2: item->description = cell; break;
      case 3:
        for (std::string_view level : Split(cell, ">")) item->category.emplace_back(TrimWhitespace(level));
        break;
      case 4: item->brand = cell; break;
      case 5:
        if (!ToNumber(cell, field, &number, error)) return false;
        item->price = number;
        break;
      case 6: item->currency = cell; break;
      case 7: {
        auto stock = ParseInt64(TrimWhitespace(cell));
        if (!stock) return Fail(error, error_code::kWrongType, field, "stock must be a whole number");
        item->stock = *stock;
        break;
      }
      case 8:
        if (!ToBool(cell, field, &item->active, error)) return false;
        break;
      case 9:
        if (!ParseTimestampField(cell, field, &item->created_ms, error)) return false;
        break;
      case 10:
        if (!ToNumber(cell, field, &number, error)) return false;
        item->old_price = number;
        break;
      case 11: item->image_url = cell; break;
      case 12:
        // Several addresses in one cell, separated by spaces or '|'
        // (addresses hold neither).
        for (std::string_view part : Split(cell, "|")) {
          for (std::string_view image : Split(part, " ")) {
            if (!image.empty()) item->images.emplace_back(image);
          }
        }
        break;
      case 13: item->url = cell; break;
      case 14: item->group_id = cell; break;
      case 15:
        if (!ToBool(cell, field, &item->available, error)) return false;
        break;
    }
  }
  std::sort(item->attributes.begin(), item->attributes.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return ValidateItem(*item, options.limits, error);
}

bool ParseUserRow(const std::vector<Column>& columns, const std::vector<std::string_view>& cells,
                  const ImportOptions& options, User* user, RecordError* error) {
  *user = User{};
  for (size_t i = 0; i < columns.size(); ++i) {
    std::string_view cell = cells[i];
    if (cell.empty()) continue;
    const Column& column = columns[i];
    if (column.field == kAttributeColumn) {
      user->attributes.emplace_back(column.key, std::string(cell));
    } else if (column.field == kConsentColumn) {
      bool granted = false;
      if (!ToBool(cell, "consent." + column.key, &granted, error)) return false;
      user->consent.emplace_back(column.key, granted);
    } else if (column.field == 0) {
      user->id = cell;
    } else if (!ParseTimestampField(cell, "created_at", &user->created_ms, error)) {
      return false;
    }
  }
  std::sort(user->attributes.begin(), user->attributes.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::sort(user->consent.begin(), user->consent.end());
  return ValidateUser(*user, options.limits, error);
}

}  // namespace

Result<ImportReport> ImportCsvRecords(Store* store, ByteSource* source, const ImportOptions& options,
                                      const Clock* clock, ProgressBar* progress) {
  ImportReport report;
  BatchWriter writer(store, options.batch_records, &report);
  CsvReader reader(source);
  std::vector<std::string_view> cells;
  if (!reader.Next(&cells)) {
    VITRINA_RETURN_IF_ERROR(reader.status());
    return Status::InvalidArgument(source->name() + ": empty file; expected a header row");
  }
  std::vector<Column> columns;
  switch (options.kind) {
    case RecordKind::kEvents:
      VITRINA_RETURN_IF_ERROR(MapHeader(cells, kEventColumns, options.kind, source->name(), &columns));
      break;
    case RecordKind::kItems:
      VITRINA_RETURN_IF_ERROR(MapHeader(cells, kItemColumns, options.kind, source->name(), &columns));
      break;
    case RecordKind::kUsers:
      VITRINA_RETURN_IF_ERROR(MapHeader(cells, kUserColumns, options.kind, source->name(), &columns));
      break;
  }
  const int64_t now = clock->NowMillis();
  RecordError error;
  while (reader.Next(&cells)) {
    ++report.rows;
    bool ok = false;
    if (cells.size() != columns.size()) {
      ok = Fail(&error, "wrong_field_count", "",
                "expected " + std::to_string(columns.size()) + " fields, got " + std::to_string(cells.size()));
    } else if (!std::all_of(cells.begin(), cells.end(), [](std::string_view c) { return IsValidUtf8(c); })) {
      ok = Fail(&error, error_code::kInvalidValue, "", "row is not valid UTF-8");
    } else {
      switch (options.kind) {
        case RecordKind::kEvents: {
          Event event;
          ok = ParseEventRow(columns, cells, options, now, &event, &error);
          if (ok && event.event_id.empty()) {
            std::string content;
            for (std::string_view cell : cells) (content += cell) += '\x1f';
            event.event_id = ImportedEventId(content, reader.line_number());
          }
          if (ok) VITRINA_RETURN_IF_ERROR(writer.Add(std::move(event), 1));
          break;
        }
        case RecordKind::kItems: {
          Item item;
          ok = ParseItemRow(columns, cells, options, &item, &error);
          if (ok) VITRINA_RETURN_IF_ERROR(writer.Add(std::move(item), 1));
          break;
        }
        case RecordKind::kUsers: {
          User user;
          ok = ParseUserRow(columns, cells, options, &user, &error);
          if (ok) VITRINA_RETURN_IF_ERROR(writer.Add(std::move(user), 1));
          break;
        }
      }
    }
    if (!ok) RecordRejected(&report, options, source->name(), reader.line_number(), error);
    if (progress != nullptr) progress->Update(report.rows, source->raw_bytes_read());
  }
  VITRINA_RETURN_IF_ERROR(reader.status());
  VITRINA_RETURN_IF_ERROR(writer.Flush());
  return report;
}

}  // namespace vitrina::import_internal
