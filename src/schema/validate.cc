#include "schema/validate.h"

#include <cmath>

#include "common/strings.h"
#include "common/time_util.h"

namespace vitrina {
namespace {

bool Fail(RecordError* error, const char* code, std::string field, std::string message) {
  error->code = code;
  error->field = std::move(field);
  error->message = std::move(message);
  return false;
}

// Free text: bounded length, no control characters except tab/newline.
bool CheckText(const std::string& text, const std::string& field, size_t max_bytes, RecordError* error) {
  if (text.size() > max_bytes) {
    return Fail(error, error_code::kTooLong, field,
                field + " is " + std::to_string(text.size()) + " bytes; the limit is " + std::to_string(max_bytes));
  }
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\n' && c != '\t' && c != '\r') || c == 0x7F) {
      return Fail(error, error_code::kInvalidValue, field, field + " contains a control character");
    }
  }
  return true;
}

// Short labels (brand, category level, context values): one line of text.
bool CheckLabel(const std::string& text, const std::string& field, size_t max_bytes, RecordError* error) {
  if (text.size() > max_bytes) {
    return Fail(error, error_code::kTooLong, field,
                field + " is " + std::to_string(text.size()) + " bytes; the limit is " + std::to_string(max_bytes));
  }
  if (HasControlChar(text)) {
    return Fail(error, error_code::kInvalidValue, field, field + " contains a control character");
  }
  return true;
}

bool CheckNonNegative(double value, double max, const std::string& field, RecordError* error) {
  if (!std::isfinite(value) || value < 0 || value > max) {
    return Fail(error, error_code::kOutOfRange, field,
                field + " must be between 0 and " + FormatDouble(max) + ", got " + FormatDouble(value));
  }
  return true;
}

bool CheckKey(const std::string& key, const std::string& field, size_t max_bytes, RecordError* error) {
  if (key.empty() || key.size() > max_bytes) {
    return Fail(error, error_code::kInvalidValue, field,
                "keys must be 1 to " + std::to_string(max_bytes) + " bytes");
  }
  if (HasControlChar(key)) return Fail(error, error_code::kInvalidValue, field, "key contains a control character");
  return true;
}

bool CheckAttributes(const Attributes& attributes, const Limits& limits, RecordError* error) {
  if (attributes.size() > limits.max_attributes) {
    return Fail(error, error_code::kTooMany, "attributes",
                std::to_string(attributes.size()) + " attributes; the limit is " +
                    std::to_string(limits.max_attributes));
  }
  for (size_t i = 0; i < attributes.size(); ++i) {
    const auto& [key, value] = attributes[i];
    const std::string field = "attributes." + key;
    if (!CheckKey(key, field, limits.max_attribute_key_bytes, error)) return false;
    if (i > 0 && attributes[i - 1].first == key) {
      return Fail(error, error_code::kDuplicateField, field, "attribute '" + key + "' is given twice");
    }
    if (const auto* text = std::get_if<std::string>(&value)) {
      if (!CheckText(*text, field, limits.max_attribute_value_bytes, error)) return false;
    } else if (const auto* number = std::get_if<double>(&value)) {
      if (!std::isfinite(*number)) {
        return Fail(error, error_code::kInvalidValue, field, "attribute numbers must be finite");
      }
    } else if (const auto* list = std::get_if<std::vector<std::string>>(&value)) {
      if (list->size() > limits.max_attribute_list_size) {
        return Fail(error, error_code::kTooMany, field,
                    "list has " + std::to_string(list->size()) + " values; the limit is " +
                        std::to_string(limits.max_attribute_list_size));
      }
      for (size_t k = 0; k < list->size(); ++k) {
        if (!CheckText((*list)[k], field + "[" + std::to_string(k) + "]", limits.max_attribute_value_bytes, error)) {
          return false;
        }
      }
    }
  }
  return true;
}

bool CheckTimestamp(int64_t millis, const std::string& field, const Limits& limits, int64_t now_ms,
                    RecordError* error) {
  if (millis < limits.min_timestamp_ms) {
    return Fail(error, error_code::kInvalidTimestamp, field,
                field + " " + FormatTimestampMillis(millis) + " is before " +
                    FormatTimestampMillis(limits.min_timestamp_ms));
  }
  if (millis > now_ms + limits.max_future_skew_ms) {
    return Fail(error, error_code::kFutureTimestamp, field,
                field + " " + FormatTimestampMillis(millis) + " is more than " +
                    std::to_string(limits.max_future_skew_ms / 1000) + " s ahead of the server clock (" +
                    FormatTimestampMillis(now_ms) + ")");
  }
  return true;
}

bool CheckCurrency(const std::string& currency, RecordError* error) {
  if (currency.empty()) return true;
  bool ok = currency.size() == 3;
  for (char c : currency) ok = ok && c >= 'A' && c <= 'Z';
  if (ok) return true;
  return Fail(error, error_code::kInvalidValue, "currency",
              "currency must be a three-letter ISO 4217 code such as \"EUR\", got \"" +
                  std::string(TruncateUtf8(currency, 64)) + "\"");
}

// Catalog and user records may predate 2000, but not the epoch.
bool CheckCreated(int64_t created_ms, RecordError* error) {
  constexpr int64_t kYear2200 = 7'258'118'400'000;
  if (created_ms >= 0 && created_ms < kYear2200) return true;
  return Fail(error, error_code::kOutOfRange, "created_at",
              "created_at " + FormatTimestampMillis(created_ms) + " is outside 1970-2200");
}

// A picture or page of the shop: an absolute http(s) URL with a host, or a
// path on the shop's own site ("/p/mug-1"). Nothing else (javascript:,
// data:, "//host" without a scheme) reaches a shop page from us.
bool CheckUrl(const std::string& url, const std::string& field, size_t max_bytes, RecordError* error) {
  if (url.size() > max_bytes) {
    return Fail(error, error_code::kTooLong, field,
                field + " is " + std::to_string(url.size()) + " bytes; the limit is " + std::to_string(max_bytes));
  }
  for (char ch : url) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7F || c == '"' || c == '<' || c == '>' || c == '\\') {
      return Fail(error, error_code::kInvalidValue, field,
                  field + " must be a URL without spaces, quotes or control characters (escape them as %XX)");
    }
  }
  const std::string lower = AsciiLower(url.substr(0, 8));
  size_t host = std::string::npos;
  if (lower.starts_with("https://")) host = 8;
  if (lower.starts_with("http://")) host = 7;
  if (host != std::string::npos) {
    if (host < url.size() && url[host] != '/' && url[host] != '?' && url[host] != '#') return true;
    return Fail(error, error_code::kInvalidValue, field, field + " has no host after the scheme");
  }
  if (url.size() >= 1 && url[0] == '/' && (url.size() == 1 || url[1] != '/')) return true;
  return Fail(error, error_code::kInvalidValue, field,
              field + " must be an absolute http:// or https:// URL or a path on the shop's site starting with '/', got \"" +
                  std::string(TruncateUtf8(url, 64)) + "\"");
}

bool NeedsLines(EventType type) {
  return type == EventType::kAddToCart || type == EventType::kRemoveFromCart || type == EventType::kPurchase ||
         type == EventType::kReturn;
}

}  // namespace

bool ValidateId(const std::string& id, const std::string& field, const Limits& limits, RecordError* error) {
  if (id.empty()) return Fail(error, error_code::kInvalidValue, field, field + " must not be empty");
  if (id.size() > limits.max_id_bytes) {
    return Fail(error, error_code::kTooLong, field,
                field + " is " + std::to_string(id.size()) + " bytes; the limit is " +
                    std::to_string(limits.max_id_bytes));
  }
  if (HasControlChar(id)) return Fail(error, error_code::kInvalidValue, field, field + " contains a control character");
  return true;
}

bool ValidateItem(const Item& item, const Limits& limits, RecordError* error) {
  if (item.id.empty()) return Fail(error, error_code::kMissingField, "id", "every item needs an id");
  if (!ValidateId(item.id, "id", limits, error)) return false;
  if (!CheckText(item.title, "title", limits.max_title_bytes, error)) return false;
  if (!CheckText(item.description, "description", limits.max_description_bytes, error)) return false;
  if (!CheckLabel(item.brand, "brand", limits.max_brand_bytes, error)) return false;
  if (item.category.size() > limits.max_category_depth) {
    return Fail(error, error_code::kTooMany, "category",
                "category path has " + std::to_string(item.category.size()) + " levels; the limit is " +
                    std::to_string(limits.max_category_depth));
  }
  for (size_t i = 0; i < item.category.size(); ++i) {
    const std::string field = "category[" + std::to_string(i) + "]";
    if (item.category[i].empty()) return Fail(error, error_code::kInvalidValue, field, "category levels must not be empty");
    if (!CheckLabel(item.category[i], field, limits.max_category_level_bytes, error)) return false;
  }
  if (item.price && !CheckNonNegative(*item.price, limits.max_price, "price", error)) return false;
  if (item.old_price) {
    if (!CheckNonNegative(*item.old_price, limits.max_price, "old_price", error)) return false;
    if (!item.price) {
      return Fail(error, error_code::kMissingField, "price", "an item with an old_price needs a price");
    }
    if (*item.old_price <= *item.price) {
      return Fail(error, error_code::kInvalidValue, "old_price",
                  "old_price (the price before a discount) must be above price: " + FormatDouble(*item.old_price) +
                      " is not above " + FormatDouble(*item.price));
    }
  }
  if (!CheckCurrency(item.currency, error) || !CheckCreated(item.created_ms, error)) return false;
  if (!item.image_url.empty() && !CheckUrl(item.image_url, "image_url", limits.max_url_bytes, error)) return false;
  if (!item.url.empty() && !CheckUrl(item.url, "url", limits.max_url_bytes, error)) return false;
  if (item.images.size() > limits.max_images) {
    return Fail(error, error_code::kTooMany, "images",
                "images has " + std::to_string(item.images.size()) + " entries; the limit is " +
                    std::to_string(limits.max_images));
  }
  for (size_t i = 0; i < item.images.size(); ++i) {
    if (!CheckUrl(item.images[i], "images[" + std::to_string(i) + "]", limits.max_url_bytes, error)) return false;
  }
  if (!item.group_id.empty() && !ValidateId(item.group_id, "group_id", limits, error)) return false;
  if (item.stock && *item.stock < 0) {
    return Fail(error, error_code::kOutOfRange, "stock",
                "stock must be 0 or more, got " + std::to_string(*item.stock));
  }
  return CheckAttributes(item.attributes, limits, error);
}

bool ValidateUser(const User& user, const Limits& limits, RecordError* error) {
  if (user.id.empty()) return Fail(error, error_code::kMissingField, "id", "every user needs an id");
  if (!ValidateId(user.id, "id", limits, error)) return false;
  if (!CheckCreated(user.created_ms, error)) return false;
  if (user.consent.size() > limits.max_consent_channels) {
    return Fail(error, error_code::kTooMany, "consent",
                std::to_string(user.consent.size()) + " consent channels; the limit is " +
                    std::to_string(limits.max_consent_channels));
  }
  for (size_t i = 0; i < user.consent.size(); ++i) {
    const std::string field = "consent." + user.consent[i].first;
    if (!CheckKey(user.consent[i].first, field, 64, error)) return false;
    if (i > 0 && user.consent[i - 1].first == user.consent[i].first) {
      return Fail(error, error_code::kDuplicateField, field, "channel is given twice");
    }
  }
  return CheckAttributes(user.attributes, limits, error);
}

bool ValidateEvent(const Event& event, const Limits& limits, int64_t now_ms, RecordError* error) {
  const std::string type_name(EventTypeName(event.type));
  if (!event.event_id.empty()) {
    if (!ValidateId(event.event_id, "event_id", limits, error)) return false;
    if (event.event_id[0] == kGeneratedEventIdPrefix) {
      return Fail(error, error_code::kInvalidValue, "event_id",
                  std::string("event_id must not start with '") + kGeneratedEventIdPrefix +
                      "': the server uses that prefix for the ids it generates");
    }
  }
  if (event.user_id.empty() && event.session_id.empty()) {
    return Fail(error, error_code::kMissingField, "user_id", "an event needs a user_id, a session_id, or both");
  }
  if (!event.user_id.empty() && !ValidateId(event.user_id, "user_id", limits, error)) return false;
  if (!event.session_id.empty() && !ValidateId(event.session_id, "session_id", limits, error)) return false;
  if (!event.recommendation_id.empty() &&
      !ValidateId(event.recommendation_id, "recommendation_id", limits, error)) {
    return false;
  }
  if (!CheckTimestamp(event.timestamp_ms, "timestamp", limits, now_ms, error)) return false;

  switch (event.type) {
    case EventType::kView:
    case EventType::kClick:
    case EventType::kRating:
      if (event.item_id.empty()) {
        return Fail(error, error_code::kMissingField, "item_id", type_name + " events need an item_id");
      }
      break;
    case EventType::kAddToCart:
    case EventType::kRemoveFromCart:
    case EventType::kPurchase:
    case EventType::kReturn:
      if (event.lines.empty()) {
        return Fail(error, error_code::kMissingField, "lines",
                    type_name + " events need an item_id or a non-empty list of lines");
      }
      break;
    case EventType::kSearch:
      if (TrimWhitespace(event.query).empty()) {
        return Fail(error, error_code::kMissingField, "query", "search events need a non-empty query");
      }
      break;
    case EventType::kImpression:
      if (event.item_ids.empty()) {
        return Fail(error, error_code::kMissingField, "item_ids",
                    "impression events need the list of items shown in item_ids");
      }
      break;
  }
  if (!event.item_id.empty() && !ValidateId(event.item_id, "item_id", limits, error)) return false;
  if (!event.lines.empty() && !NeedsLines(event.type)) {
    return Fail(error, error_code::kNotAllowed, "lines",
                "lines are only for add_to_cart, remove_from_cart, purchase and return events, not " + type_name);
  }
  if (event.lines.size() > limits.max_lines) {
    return Fail(error, error_code::kTooMany, "lines",
                std::to_string(event.lines.size()) + " lines; the limit is " + std::to_string(limits.max_lines));
  }
  for (size_t i = 0; i < event.lines.size(); ++i) {
    const std::string prefix = "lines[" + std::to_string(i) + "]";
    const EventLine& line = event.lines[i];
    if (line.item_id.empty()) return Fail(error, error_code::kMissingField, prefix + ".item_id", "each line needs an item_id");
    if (!ValidateId(line.item_id, prefix + ".item_id", limits, error)) return false;
    if (!std::isfinite(line.quantity) || line.quantity <= 0 || line.quantity > limits.max_quantity) {
      return Fail(error, error_code::kOutOfRange, prefix + ".quantity",
                  "quantity must be greater than 0 and at most " + FormatDouble(limits.max_quantity) + ", got " +
                      FormatDouble(line.quantity) +
                      (event.type == EventType::kReturn ? " (returns carry the returned units as a positive number)"
                                                        : ""));
    }
    if (line.price && !CheckNonNegative(*line.price, limits.max_price, prefix + ".price", error)) return false;
  }
  if (!event.item_ids.empty() && event.type != EventType::kImpression) {
    return Fail(error, error_code::kNotAllowed, "item_ids", "item_ids is only for impression events, not " + type_name);
  }
  if (event.item_ids.size() > limits.max_item_ids) {
    return Fail(error, error_code::kTooMany, "item_ids",
                std::to_string(event.item_ids.size()) + " item_ids; the limit is " + std::to_string(limits.max_item_ids));
  }
  for (size_t i = 0; i < event.item_ids.size(); ++i) {
    if (!ValidateId(event.item_ids[i], "item_ids[" + std::to_string(i) + "]", limits, error)) return false;
  }
  if (event.type == EventType::kRating) {
    if (!event.value) return Fail(error, error_code::kMissingField, "value", "rating events need a value");
    if (!std::isfinite(*event.value) || std::fabs(*event.value) > limits.max_abs_rating) {
      return Fail(error, error_code::kOutOfRange, "value",
                  "value must be a finite number within +-" + FormatDouble(limits.max_abs_rating));
    }
  } else if (event.value) {
    return Fail(error, error_code::kNotAllowed, "value", "value is only for rating events, not " + type_name);
  }
  if (!CheckText(event.query, "query", limits.max_query_bytes, error)) return false;
  if (!CheckLabel(event.context.device, "context.device", limits.max_context_value_bytes, error) ||
      !CheckLabel(event.context.country, "context.country", limits.max_context_value_bytes, error) ||
      !CheckLabel(event.context.channel, "context.channel", limits.max_context_value_bytes, error) ||
      !CheckLabel(event.context.page, "context.page", limits.max_page_bytes, error)) {
    return false;
  }
  return CheckCurrency(event.currency, error);
}

bool ApplyItemShorthand(Event* event, std::optional<double> quantity, std::optional<double> price,
                        RecordError* error) {
  if (NeedsLines(event->type)) {
    if (!event->item_id.empty()) {
      if (!event->lines.empty()) {
        return Fail(error, error_code::kNotAllowed, "item_id", "give either item_id or lines, not both");
      }
      event->lines.push_back(EventLine{std::move(event->item_id), quantity.value_or(1.0), price});
      event->item_id.clear();
      return true;
    }
    if (quantity || price) {
      return Fail(error, error_code::kNotAllowed, quantity ? "quantity" : "price",
                  "top-level quantity and price go with a top-level item_id; with lines, put them in each line");
    }
    return true;
  }
  if (quantity) {
    return Fail(error, error_code::kNotAllowed, "quantity",
                "quantity is only for add_to_cart, remove_from_cart, purchase and return events, not " +
                    std::string(EventTypeName(event->type)));
  }
  if (price) {
    return Fail(error, error_code::kNotAllowed, "price",
                "price is only for add_to_cart, remove_from_cart, purchase and return events, not " +
                    std::string(EventTypeName(event->type)));
  }
  return true;
}

bool SecondsToMillis(double seconds, const std::string& field, int64_t* millis, RecordError* error) {
  if (!std::isfinite(seconds) || std::fabs(seconds) > 1e13) {
    return Fail(error, error_code::kInvalidTimestamp, field, field + " is out of range");
  }
  if (seconds > 1e11) {
    // Year 5138 in seconds; almost certainly milliseconds or microseconds.
    return Fail(error, error_code::kFutureTimestamp, field,
                field + " " + FormatDouble(seconds) +
                    " looks like milliseconds; send seconds since the epoch or an RFC 3339 string");
  }
  *millis = static_cast<int64_t>(std::llround(seconds * 1000.0));
  return true;
}

bool ParseTimestampField(std::string_view text, const std::string& field, int64_t* millis, RecordError* error) {
  bool has_zone = false;
  if (auto parsed = ParseTimestampMillis(text, &has_zone)) {
    // A date alone means midnight UTC; a time of day must say its zone.
    if (text.size() > 10 && !has_zone) {
      return Fail(error, error_code::kInvalidTimestamp, field,
                  field + " \"" + std::string(TruncateUtf8(text, 64)) +
                      "\" has no time zone; add Z for UTC or an offset such as +02:00");
    }
    *millis = *parsed;
    return true;
  }
  if (auto seconds = ParseDouble(text)) return SecondsToMillis(*seconds, field, millis, error);
  return Fail(error, error_code::kInvalidTimestamp, field,
              field + " \"" + std::string(TruncateUtf8(text, 64)) +
                  "\" is not an RFC 3339 timestamp (2024-03-01T10:20:30Z) or a number of seconds");
}

}  // namespace vitrina
