// The UCI Online Retail adapter (docs/IMPORT.md#online-retail).
//
// Each invoice becomes one event: a purchase, or a return for 'C'
// (cancellation) invoices, with one line per invoice row. Customers become
// users; rows without a customer belong to an anonymous session named after
// the invoice. The catalog is built from the rows: one item per StockCode,
// titled by its most frequent description, priced at its median unit price.
// Items and users already in the store are kept as they are (a shop may
// have enriched them); only an earlier first sale moves created_at back.
#include <algorithm>
#include <array>
#include <cmath>
#include <unordered_map>

#include "common/strings.h"
#include "common/time_util.h"
#include "ingest/csv_reader.h"
#include "ingest/import_util.h"

namespace vitrina::import_internal {
namespace {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

constexpr std::array<std::string_view, 8> kColumns = {"InvoiceNo",   "StockCode", "Description", "Quantity",
                                                      "InvoiceDate", "UnitPrice", "CustomerID",  "Country"};
enum Col { kInvoice, kStockCode, kDescription, kQuantity, kDate, kPrice, kCustomer, kCountry };

// Codes that are fees, postage or bookkeeping rather than products.
std::optional<std::string> NonProductReason(std::string_view code) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 12> kCodes = {{
      {"POST", "postage"},
      {"DOT", "dotcom postage"},
      {"M", "manual adjustment"},
      {"m", "manual adjustment"},
      {"D", "discount"},
      {"C2", "carriage"},
      {"S", "samples"},
      {"BANK CHARGES", "bank charges"},
      {"AMAZONFEE", "Amazon fee"},
      {"CRUK", "charity commission"},
      {"PADS", "pads to match all cushions"},
      {"B", "bad debt adjustment"},
  }};
  for (const auto& [known, what] : kCodes) {
    if (code == known) return "non-product code " + std::string(known) + " (" + std::string(what) + ")";
  }
  if (code.substr(0, 10) == "gift_0001_") return "non-product code gift_0001_* (gift voucher)";
  return std::nullopt;
}

struct ItemStats {
  StringMap<uint32_t> titles;
  std::vector<float> prices;
  int64_t first_seen_ms = 0;
};

struct UserStats {
  StringMap<uint32_t> countries;
  int64_t first_seen_ms = 0;
};

// The most frequent key; ties go to the smallest, for determinism.
std::string MostFrequent(const StringMap<uint32_t>& counts) {
  const std::string* best = nullptr;
  uint32_t best_count = 0;
  for (const auto& [key, count] : counts) {
    if (count > best_count || (count == best_count && best != nullptr && key < *best)) {
      best = &key;
      best_count = count;
    }
  }
  return best == nullptr ? std::string() : *best;
}

// The median unit price, rounded back to pennies (prices are kept as float).
double Median(std::vector<float>* prices) {
  const size_t n = prices->size();
  auto upper = prices->begin() + n / 2;
  std::nth_element(prices->begin(), upper, prices->end());
  double median = *upper;
  if (n % 2 == 0) median = (median + *std::max_element(prices->begin(), upper)) / 2.0;
  return std::round(median * 100.0) / 100.0;
}

// "17850.0" -> "17850"
std::string_view CustomerId(std::string_view raw) {
  raw = TrimWhitespace(raw);
  if (raw.size() > 2 && raw.substr(raw.size() - 2) == ".0") raw.remove_suffix(2);
  return raw;
}

class OnlineRetailImporter {
 public:
  OnlineRetailImporter(Store* store, ByteSource* source, const ImportOptions& options, const Clock* clock,
                       ProgressBar* progress)
      : store_(store),
        source_(source),
        options_(options),
        progress_(progress),
        now_(clock->NowMillis()),
        writer_(store, options.batch_records, &report_) {}

  Result<ImportReport> Run() {
    CsvReader reader(source_);
    std::vector<std::string_view> cells;
    if (!reader.Next(&cells)) {
      VITRINA_RETURN_IF_ERROR(reader.status());
      return Status::InvalidArgument(source_->name() + ": empty file; expected the Online Retail header");
    }
    VITRINA_RETURN_IF_ERROR(MapHeader(cells));
    std::vector<std::string_view> row(kColumns.size());
    while (reader.Next(&cells)) {
      ++report_.rows;
      if (cells.size() != header_columns_) {
        Reject(reader.line_number(), "", "expected " + std::to_string(header_columns_) + " fields, got " +
                                             std::to_string(cells.size()));
      } else {
        for (size_t c = 0; c < kColumns.size(); ++c) row[c] = cells[field_index_[c]];
        VITRINA_RETURN_IF_ERROR(HandleRow(row, reader.line_number()));
      }
      if (progress_ != nullptr) progress_->Update(report_.rows, source_->raw_bytes_read());
    }
    VITRINA_RETURN_IF_ERROR(reader.status());
    VITRINA_RETURN_IF_ERROR(FinishInvoice());
    VITRINA_RETURN_IF_ERROR(WriteCatalogAndUsers());
    VITRINA_RETURN_IF_ERROR(writer_.Flush());
    return std::move(report_);
  }

 private:
  Status MapHeader(const std::vector<std::string_view>& header) {
    header_columns_ = header.size();
    for (size_t c = 0; c < kColumns.size(); ++c) {
      auto found = std::find_if(header.begin(), header.end(),
                                [&](std::string_view name) { return TrimWhitespace(name) == kColumns[c]; });
      if (found == header.end()) {
        return Status::InvalidArgument(source_->name() + ":1: missing column " + std::string(kColumns[c]) +
                                       "; the Online Retail header is InvoiceNo,StockCode,Description,Quantity,"
                                       "InvoiceDate,UnitPrice,CustomerID,Country");
      }
      field_index_[c] = static_cast<size_t>(found - header.begin());
    }
    return Status::OK();
  }

  void Reject(uint64_t line, const std::string& field, std::string message) {
    RecordError error{error_code::kInvalidValue, field, std::move(message)};
    RecordRejected(&report_, options_, source_->name(), line, error);
  }

  Status HandleRow(const std::vector<std::string_view>& row, uint64_t line) {
    for (size_t c = 0; c < kColumns.size(); ++c) {
      if (!IsValidUtf8(row[c])) {
        Reject(line, std::string(kColumns[c]), "not valid UTF-8");
        return Status::OK();
      }
    }
    const std::string_view invoice = TrimWhitespace(row[kInvoice]);
    const std::string_view code = TrimWhitespace(row[kStockCode]);
    if (invoice.empty()) {
      Reject(line, "InvoiceNo", "empty invoice number");
      return Status::OK();
    }
    if (invoice[0] == 'A') {
      RecordSkipped(&report_, "adjustment invoice (A...)");
      return Status::OK();
    }
    if (auto reason = NonProductReason(code)) {
      RecordSkipped(&report_, *reason);
      return Status::OK();
    }
    if (code.empty()) {
      Reject(line, "StockCode", "empty stock code");
      return Status::OK();
    }
    auto quantity = ParseInt64(TrimWhitespace(row[kQuantity]));
    if (!quantity) {
      Reject(line, "Quantity", "\"" + std::string(TruncateUtf8(row[kQuantity], 32)) + "\" is not a whole number");
      return Status::OK();
    }
    auto price = ParseDouble(TrimWhitespace(row[kPrice]));
    if (!price) {
      Reject(line, "UnitPrice", "\"" + std::string(TruncateUtf8(row[kPrice], 32)) + "\" is not a number");
      return Status::OK();
    }
    auto wall_clock = ParseTimestampMillis(TrimWhitespace(row[kDate]));
    if (!wall_clock) {
      Reject(line, "InvoiceDate", "\"" + std::string(TruncateUtf8(row[kDate], 32)) + "\" is not YYYY-MM-DD HH:MM[:SS]");
      return Status::OK();
    }
    const bool cancellation = invoice[0] == 'C';
    if (*quantity < -1'000'000'000 || *quantity > 1'000'000'000) {
      Reject(line, "Quantity", "quantity " + std::to_string(*quantity) + " is out of range");
      return Status::OK();
    }
    if (!cancellation && *quantity <= 0) {
      RecordSkipped(&report_, "stock adjustment (quantity <= 0 outside a C invoice)");
      return Status::OK();
    }
    if (*price < 0) {
      Reject(line, "UnitPrice", "negative unit price " + std::string(TruncateUtf8(row[kPrice], 32)));
      return Status::OK();
    }
    if (*price == 0) {
      RecordSkipped(&report_, "zero unit price");
      return Status::OK();
    }
    if (cancellation && *quantity >= 0) {
      Reject(line, "Quantity", "a cancellation (C invoice) must have a negative quantity");
      return Status::OK();
    }
    const int64_t timestamp = UkLocalToUtcMillis(*wall_clock);

    if (invoice != current_invoice_) {
      VITRINA_RETURN_IF_ERROR(FinishInvoice());
      StartInvoice(invoice, CustomerId(row[kCustomer]), TrimWhitespace(row[kCountry]), timestamp, cancellation,
                   line);
    }
    current_.lines.push_back(EventLine{std::string(code), static_cast<double>(std::abs(*quantity)), *price});
    ++current_rows_;

    auto item = items_.find(code);
    if (item == items_.end()) {
      item = items_.emplace(std::string(code), ItemStats{}).first;
      item->second.first_seen_ms = timestamp;
    }
    item->second.first_seen_ms = std::min(item->second.first_seen_ms, timestamp);
    std::string_view title = TrimWhitespace(row[kDescription]);
    if (!title.empty()) {
      auto it = item->second.titles.find(title);
      if (it == item->second.titles.end()) {
        item->second.titles.emplace(std::string(title), 1);
      } else {
        ++it->second;
      }
    }
    item->second.prices.push_back(static_cast<float>(*price));
    return Status::OK();
  }

  void StartInvoice(std::string_view invoice, std::string_view customer, std::string_view country,
                    int64_t timestamp, bool cancellation, uint64_t line) {
    current_invoice_ = std::string(invoice);
    current_line_ = line;
    current_rows_ = 0;
    current_ = Event{};
    // An invoice seen again after other invoices gets its own event id.
    const uint32_t occurrence = ++invoice_occurrences_[current_invoice_];
    current_.event_id = "or-" + current_invoice_ + (occurrence > 1 ? "-" + std::to_string(occurrence) : "");
    current_.type = cancellation ? EventType::kReturn : EventType::kPurchase;
    current_.timestamp_ms = timestamp;
    current_.received_ms = now_;
    current_.context.country = std::string(country);
    current_.currency = "GBP";
    if (customer.empty()) {
      current_.session_id = "inv-" + current_invoice_;
    } else {
      current_.user_id = std::string(customer);
    }
  }

  Status FinishInvoice() {
    if (current_invoice_.empty() || current_.lines.empty()) return Status::OK();
    RecordError error;
    if (!ValidateEvent(current_, options_.limits, now_, &error)) {
      report_.rejected += current_rows_ - 1;  // RecordRejected counts one
      RecordRejected(&report_, options_, source_->name(), current_line_, error);
    } else {
      if (!current_.user_id.empty()) {
        // Counted only for accepted invoices, so every user has a valid id.
        auto [user, inserted] = users_.try_emplace(current_.user_id);
        if (inserted || current_.timestamp_ms < user->second.first_seen_ms) {
          user->second.first_seen_ms = current_.timestamp_ms;
        }
        if (!current_.context.country.empty()) ++user->second.countries[current_.context.country];
      }
      VITRINA_RETURN_IF_ERROR(writer_.Add(std::move(current_), current_rows_));
    }
    current_ = Event{};
    current_rows_ = 0;
    return Status::OK();
  }

  Status WriteCatalogAndUsers() {
    std::vector<std::string> codes;
    codes.reserve(items_.size());
    for (const auto& [code, stats] : items_) codes.push_back(code);
    std::sort(codes.begin(), codes.end());
    for (const std::string& code : codes) {
      ItemStats& stats = items_.find(code)->second;
      auto existing = store_->GetItem(code);
      if (existing.ok()) {
        if (existing->created_ms <= stats.first_seen_ms) continue;
        existing->created_ms = stats.first_seen_ms;
        VITRINA_RETURN_IF_ERROR(writer_.Add(std::move(existing).value(), 0));
        continue;
      }
      if (!existing.status().IsNotFound()) return existing.status();
      Item item;
      item.id = code;
      item.title = MostFrequent(stats.titles);
      item.price = Median(&stats.prices);
      item.currency = "GBP";
      item.created_ms = stats.first_seen_ms;
      RecordError error;
      if (!ValidateItem(item, options_.limits, &error)) {
        error.message = "stock code " + std::string(TruncateUtf8(code, 64)) + ": " + error.message;
        RecordRejected(&report_, options_, source_->name(), 0, error);
        continue;
      }
      VITRINA_RETURN_IF_ERROR(writer_.Add(std::move(item), 0));
    }
    std::vector<std::string> ids;
    ids.reserve(users_.size());
    for (const auto& [id, stats] : users_) ids.push_back(id);
    std::sort(ids.begin(), ids.end());
    for (const std::string& id : ids) {
      const UserStats& stats = users_[id];
      const std::string country = MostFrequent(stats.countries);
      auto existing = store_->GetUser(id);
      if (existing.ok()) {
        // Keep consent and attributes set through the API; fill gaps only.
        User user = std::move(existing).value();
        bool changed = false;
        if (user.created_ms > stats.first_seen_ms) {
          user.created_ms = stats.first_seen_ms;
          changed = true;
        }
        auto has_country = std::any_of(user.attributes.begin(), user.attributes.end(),
                                       [](const auto& attribute) { return attribute.first == "country"; });
        if (!country.empty() && !has_country) {
          user.attributes.emplace_back("country", country);
          std::sort(user.attributes.begin(), user.attributes.end(),
                    [](const auto& a, const auto& b) { return a.first < b.first; });
          changed = true;
        }
        if (changed) VITRINA_RETURN_IF_ERROR(writer_.Add(std::move(user), 0));
        continue;
      }
      if (!existing.status().IsNotFound()) return existing.status();
      User user;
      user.id = id;
      if (!country.empty()) user.attributes.emplace_back("country", country);
      user.created_ms = stats.first_seen_ms;
      VITRINA_RETURN_IF_ERROR(writer_.Add(std::move(user), 0));
    }
    return Status::OK();
  }

  Store* store_;
  ByteSource* source_;
  const ImportOptions& options_;
  ProgressBar* progress_;
  const int64_t now_;
  ImportReport report_;
  BatchWriter writer_;
  size_t header_columns_ = 0;
  std::array<size_t, kColumns.size()> field_index_{};

  std::string current_invoice_;
  uint64_t current_line_ = 0;
  uint64_t current_rows_ = 0;
  Event current_;
  StringMap<uint32_t> invoice_occurrences_;
  StringMap<ItemStats> items_;
  StringMap<UserStats> users_;
};

}  // namespace

Result<ImportReport> ImportOnlineRetail(Store* store, ByteSource* source, const ImportOptions& options,
                                        const Clock* clock, ProgressBar* progress) {
  return OnlineRetailImporter(store, source, options, clock, progress).Run();
}

}  // namespace vitrina::import_internal
