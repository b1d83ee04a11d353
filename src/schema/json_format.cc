// Records -> JSON, in the shape the API documents (docs/API.md).
#include "common/time_util.h"
#include "schema/json.h"

namespace vitrina {

void WriteAttributesJson(const Attributes& attributes, JsonWriter* w) {
  w->BeginObject();
  for (const auto& [key, value] : attributes) {
    w->Key(key);
    if (const auto* text = std::get_if<std::string>(&value)) {
      w->String(*text);
    } else if (const auto* number = std::get_if<double>(&value)) {
      w->Double(*number);
    } else if (const auto* flag = std::get_if<bool>(&value)) {
      w->Bool(*flag);
    } else {
      w->BeginArray();
      for (const auto& entry : std::get<std::vector<std::string>>(value)) w->String(entry);
      w->EndArray();
    }
  }
  w->EndObject();
}

void WriteItemJson(const Item& item, JsonWriter* w) {
  w->BeginObject();
  w->Key("id").String(item.id);
  w->Key("title").String(item.title);
  if (!item.description.empty()) w->Key("description").String(item.description);
  w->Key("category").BeginArray();
  for (const auto& level : item.category) w->String(level);
  w->EndArray();
  if (!item.brand.empty()) w->Key("brand").String(item.brand);
  if (item.price) w->Key("price").Double(*item.price);
  if (item.old_price) w->Key("old_price").Double(*item.old_price);
  if (!item.currency.empty()) w->Key("currency").String(item.currency);
  if (item.stock) w->Key("stock").Int(*item.stock);
  w->Key("available").Bool(item.available);
  if (!item.image_url.empty()) w->Key("image_url").String(item.image_url);
  if (!item.images.empty()) {
    w->Key("images").BeginArray();
    for (const std::string& image : item.images) w->String(image);
    w->EndArray();
  }
  if (!item.url.empty()) w->Key("url").String(item.url);
  if (!item.group_id.empty()) w->Key("group_id").String(item.group_id);
  w->Key("attributes");
  WriteAttributesJson(item.attributes, w);
  w->Key("active").Bool(item.active);
  w->Key("created_at").String(FormatTimestampMillis(item.created_ms));
  w->Key("updated_at").String(FormatTimestampMillis(item.updated_ms));
  w->EndObject();
}

void WriteShopFieldsJson(const Item& item, JsonWriter* w) {
  auto number = [&](std::string_view key, const std::optional<double>& value) {
    w->Key(key);
    value ? w->Double(*value) : w->Null();
  };
  auto text = [&](std::string_view key, const std::string& value) {
    w->Key(key);
    value.empty() ? w->Null() : w->String(value);
  };
  number("price", item.price);
  number("old_price", item.old_price);
  text("currency", item.currency);
  text("image_url", item.image_url);
  w->Key("images").BeginArray();
  for (const std::string& image : item.images) w->String(image);
  w->EndArray();
  text("url", item.url);
  text("group_id", item.group_id);
  w->Key("available").Bool(item.available).Key("in_stock").Bool(item.InStock());
}

void WriteUserJson(const User& user, JsonWriter* w) {
  w->BeginObject();
  w->Key("id").String(user.id);
  w->Key("attributes");
  WriteAttributesJson(user.attributes, w);
  w->Key("consent").BeginObject();
  for (const auto& [channel, granted] : user.consent) w->Key(channel).Bool(granted);
  w->EndObject();
  w->Key("created_at").String(FormatTimestampMillis(user.created_ms));
  w->Key("updated_at").String(FormatTimestampMillis(user.updated_ms));
  w->EndObject();
}

void WriteEventJson(const Event& event, JsonWriter* w) {
  w->BeginObject();
  w->Key("event_id").String(event.event_id);
  w->Key("type").String(EventTypeName(event.type));
  if (!event.user_id.empty()) w->Key("user_id").String(event.user_id);
  if (!event.session_id.empty()) w->Key("session_id").String(event.session_id);
  if (!event.item_id.empty()) w->Key("item_id").String(event.item_id);
  if (!event.lines.empty()) {
    w->Key("lines").BeginArray();
    for (const auto& line : event.lines) {
      w->BeginObject().Key("item_id").String(line.item_id).Key("quantity").Double(line.quantity);
      if (line.price) w->Key("price").Double(*line.price);
      w->EndObject();
    }
    w->EndArray();
  }
  if (!event.item_ids.empty()) {
    w->Key("item_ids").BeginArray();
    for (const auto& id : event.item_ids) w->String(id);
    w->EndArray();
  }
  w->Key("timestamp").String(FormatTimestampMillis(event.timestamp_ms));
  w->Key("received_at").String(FormatTimestampMillis(event.received_ms));
  const EventContext& c = event.context;
  if (!c.device.empty() || !c.country.empty() || !c.page.empty() || !c.channel.empty()) {
    w->Key("context").BeginObject();
    if (!c.device.empty()) w->Key("device").String(c.device);
    if (!c.country.empty()) w->Key("country").String(c.country);
    if (!c.page.empty()) w->Key("page").String(c.page);
    if (!c.channel.empty()) w->Key("channel").String(c.channel);
    w->EndObject();
  }
  if (!event.recommendation_id.empty()) w->Key("recommendation_id").String(event.recommendation_id);
  if (!event.query.empty()) w->Key("query").String(event.query);
  if (event.value) w->Key("value").Double(*event.value);
  if (!event.currency.empty()) w->Key("currency").String(event.currency);
  w->EndObject();
}

}  // namespace vitrina
