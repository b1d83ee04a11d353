#include "ingest/importer.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/time_util.h"

namespace vitrina {
namespace {

class ImporterTest : public ::testing::Test {
 protected:
  ImportReport Import(const std::string& text, ImportFormat format, RecordKind kind = RecordKind::kEvents) {
    auto source = MakeStringByteSource(text, "input");
    ImportOptions options;
    options.format = format;
    options.kind = kind;
    options.batch_records = 3;  // several batches even for small inputs
    auto report = ImportFile(store_.get(), source.get(), options, &clock_, nullptr);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : ImportReport{};
  }

  Status ImportError(const std::string& text, ImportFormat format, RecordKind kind = RecordKind::kEvents) {
    auto source = MakeStringByteSource(text, "input");
    ImportOptions options;
    options.format = format;
    options.kind = kind;
    return ImportFile(store_.get(), source.get(), options, &clock_, nullptr).status();
  }

  ManualClock clock_{*ParseTimestampMillis("2024-01-01T00:00:00Z")};
  std::unique_ptr<Store> store_ = NewMemoryStore(&clock_);
};

TEST_F(ImporterTest, JsonlEventsWithBadLinesAndDuplicates) {
  std::string text =
      R"({"event_id":"a","type":"view","user_id":"u","item_id":"i","timestamp":"2023-05-01T10:00:00Z"})" "\n"
      "\n"
      R"({"event_id":"b","type":"view","user_id":"u"})" "\n"
      R"({"event_id":"a","type":"view","user_id":"u","item_id":"i"})" "\n"
      R"({"event_id":"c","type":"purchase","user_id":"u","lines":[{"item_id":"i","quantity":-1}]})" "\n"
      R"({"event_id":"d","type":"click","user_id":"u","item_id":"j"})" "\n"
      "{broken\n";
  ImportReport report = Import(text, ImportFormat::kJsonl);
  EXPECT_EQ(report.rows, 6u);
  EXPECT_EQ(report.accepted, 2u);
  EXPECT_EQ(report.duplicates, 1u);
  EXPECT_EQ(report.rejected, 3u);
  ASSERT_EQ(report.errors.size(), 3u);
  EXPECT_EQ(report.errors[0], "input:3: item_id: view events need an item_id");
  EXPECT_EQ(report.errors[1].substr(0, 26), "input:5: lines[0].quantity");
  EXPECT_EQ(report.errors[2].substr(0, 23), "input:7: malformed JSON");
  EXPECT_EQ(store_->Counts().events, 2u);
}

TEST_F(ImporterTest, JsonlItemsAndUsers) {
  ImportReport items = Import(
      "{\"id\":\"a\",\"title\":\"A\",\"price\":2}\n{\"id\":\"b\",\"price\":-2}\n{\"id\":\"a\",\"title\":\"A2\"}\n",
      ImportFormat::kJsonl, RecordKind::kItems);
  EXPECT_EQ(items.items_created, 1u);
  EXPECT_EQ(items.items_updated, 1u);
  EXPECT_EQ(items.rejected, 1u);
  EXPECT_EQ(store_->GetItem("a")->title, "A2");
  ImportReport users = Import("{\"id\":\"u1\",\"consent\":{\"email\":true}}\n", ImportFormat::kJsonl, RecordKind::kUsers);
  EXPECT_EQ(users.users_created, 1u);
}

TEST_F(ImporterTest, CsvEventsItemsUsers) {
  ImportReport events = Import(
      "event_id,type,user_id,item_id,quantity,price,timestamp,country\n"
      "e1,purchase,u1,sku1,2,3.5,2023-06-01T12:00:00Z,DE\n"
      "e2,view,u1,sku2,,,1685534400,\n"
      "e3,view,u1,sku2,2,,,\n"
      "e4,teleport,u1,sku2,,,,\n"
      "e5,view,u1\n",
      ImportFormat::kCsv);
  EXPECT_EQ(events.accepted, 2u);
  EXPECT_EQ(events.rejected, 3u);
  ASSERT_EQ(events.errors.size(), 3u);
  EXPECT_EQ(events.errors[0], "input:4: quantity: quantity is only for add_to_cart, remove_from_cart, purchase and "
                              "return events, not view");
  EXPECT_EQ(events.errors[2], "input:6: expected 8 fields, got 3");
  std::vector<Event> recent;
  ASSERT_TRUE(store_->GetRecentEvents(ActorKind::kUser, "u1", 10, &recent).ok());
  ASSERT_EQ(recent.size(), 2u);
  EXPECT_EQ(recent[0].event_id, "e1");
  EXPECT_EQ(recent[0].lines[0].quantity, 2);
  EXPECT_EQ(recent[0].context.country, "DE");

  ImportReport items = Import(
      "id,title,category,price,stock,active,attributes.color\n"
      "sku1,Red mug,Home > Kitchen,4.5,10,true,red\n"
      "sku2,Bad,Home,cheap,1,true,\n",
      ImportFormat::kCsv, RecordKind::kItems);
  EXPECT_EQ(items.accepted, 1u);
  EXPECT_EQ(items.rejected, 1u);
  auto item = store_->GetItem("sku1");
  ASSERT_TRUE(item.ok());
  EXPECT_EQ(item->category, (std::vector<std::string>{"Home", "Kitchen"}));
  EXPECT_EQ(item->stock, 10);
  ASSERT_EQ(item->attributes.size(), 1u);

  ImportReport users = Import("id,consent.email,attributes.tier\nu1,yes,gold\nu2,maybe,\n", ImportFormat::kCsv,
                              RecordKind::kUsers);
  EXPECT_EQ(users.accepted, 1u);
  EXPECT_EQ(users.rejected, 1u);
  EXPECT_EQ(store_->GetUser("u1")->consent[0], (std::pair<std::string, bool>{"email", true}));
}

TEST_F(ImporterTest, CsvUnknownColumnFailsWithFileAndLine) {
  Status status = ImportError("event_id,typ,user_id\n", ImportFormat::kCsv);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("input:1: unknown column \"typ\""), std::string::npos) << status.message();
}

constexpr char kRetailSample[] =
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n"
    "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850.0,United Kingdom\n"
    "536365,POST,POSTAGE,1,2010-12-01 08:26:00,18.0,17850.0,United Kingdom\n"
    "536366,85123A,  WHITE HANGING HEART T-LIGHT HOLDER ,2,2011-06-01 09:00:00,2.95,,United Kingdom\n"
    "C536367,71053,WHITE METAL LANTERN,-2,2011-06-02 10:00:00,3.39,17850.0,United Kingdom\n"
    "536368,22139,damaged,-5,2011-06-03 10:00:00,0.0,,United Kingdom\n"
    "536369,22140,FREE GIFT,1,2011-06-03 10:00:00,0.0,12345.0,France\n"
    "536370,85123A,RED HEART,3,2011-06-04 10:00:00,2.65,12345.0,France\n"
    "536370,gift_0001_20,Dotcomgiftshop Gift Voucher,1,2011-06-04 10:00:00,17.0,12345.0,France\n"
    "536371,71053,WHITE METAL LANTERN,two,2011-06-04 10:00:00,3.39,12345.0,France\n"
    "A563186,B,Adjust bad debt,1,2011-08-12 14:51:00,-11062.06,,United Kingdom\n";

TEST_F(ImporterTest, OnlineRetailTurnsInvoicesIntoEvents) {
  ImportReport report = Import(kRetailSample, ImportFormat::kOnlineRetail);
  EXPECT_EQ(report.rows, 11u);
  EXPECT_EQ(report.accepted, 5u);  // rows inside stored events
  EXPECT_EQ(report.rejected, 1u);
  EXPECT_EQ(report.skipped, 5u);
  EXPECT_EQ(report.skipped_by_reason["non-product code POST (postage)"], 1u);
  EXPECT_EQ(report.skipped_by_reason["non-product code gift_0001_* (gift voucher)"], 1u);
  EXPECT_EQ(report.skipped_by_reason["zero unit price"], 1u);
  EXPECT_EQ(report.skipped_by_reason["stock adjustment (quantity <= 0 outside a C invoice)"], 1u);
  EXPECT_EQ(report.skipped_by_reason["adjustment invoice (A...)"], 1u);
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_EQ(report.errors[0], "input:11: Quantity: \"two\" is not a whole number");
  EXPECT_EQ(report.events_stored, 4u);
  EXPECT_EQ(report.items_created, 2u);
  EXPECT_EQ(report.users_created, 2u);

  std::vector<Event> events;
  ASSERT_TRUE(store_->GetRecentEvents(ActorKind::kUser, "17850", 10, &events).ok());
  ASSERT_EQ(events.size(), 2u);
  const Event& ret = events[0];
  EXPECT_EQ(ret.event_id, "or-C536367");
  EXPECT_EQ(ret.type, EventType::kReturn);
  EXPECT_EQ(ret.lines[0].quantity, 2);
  // 2011-06-02 10:00 BST is 09:00 UTC.
  EXPECT_EQ(ret.timestamp_ms, *ParseTimestampMillis("2011-06-02T09:00:00Z"));
  const Event& purchase = events[1];
  EXPECT_EQ(purchase.type, EventType::kPurchase);
  ASSERT_EQ(purchase.lines.size(), 2u);
  EXPECT_EQ(purchase.lines[1], (EventLine{"71053", 6, 3.39}));
  EXPECT_EQ(purchase.context.country, "United Kingdom");
  EXPECT_EQ(purchase.currency, "GBP");

  ASSERT_TRUE(store_->GetRecentEvents(ActorKind::kSession, "inv-536366", 10, &events).ok());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].user_id.empty());

  auto item = store_->GetItem("85123A");
  ASSERT_TRUE(item.ok());
  EXPECT_EQ(item->title, "WHITE HANGING HEART T-LIGHT HOLDER");  // most frequent, trimmed
  EXPECT_DOUBLE_EQ(*item->price, 2.65);                          // median of 2.55, 2.95, 2.65
  EXPECT_EQ(item->created_ms, *ParseTimestampMillis("2010-12-01T08:26:00Z"));
  EXPECT_FALSE(store_->GetItem("POST").ok());
  auto user = store_->GetUser("12345");
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(std::get<std::string>(user->attributes[0].second), "France");
}

TEST_F(ImporterTest, OnlineRetailReimportIsIdempotent) {
  Import(kRetailSample, ImportFormat::kOnlineRetail);
  ImportReport again = Import(kRetailSample, ImportFormat::kOnlineRetail);
  EXPECT_EQ(again.accepted, 0u);
  EXPECT_EQ(again.duplicates, 5u);
  EXPECT_EQ(again.events_duplicate, 4u);
  EXPECT_EQ(again.items_created + again.items_updated, 0u);
  EXPECT_EQ(again.users_created + again.users_updated, 0u);
  EXPECT_EQ(store_->Counts().events, 4u);
}

TEST_F(ImporterTest, OnlineRetailKeepsWhatTheShopAlreadyStored) {
  WriteBatch batch;
  Item item;
  item.id = "85123A";
  item.title = "Heart holder (shop's own title)";
  item.brand = "Acme";
  item.created_ms = *ParseTimestampMillis("2011-01-01T00:00:00Z");
  batch.UpsertItem(item);
  User user;
  user.id = "17850";
  user.consent = {{"email", true}};
  user.created_ms = *ParseTimestampMillis("2011-01-01T00:00:00Z");
  batch.UpsertUser(user);
  std::vector<WriteOutcome> outcomes;
  ASSERT_TRUE(store_->Write(&batch, &outcomes).ok());

  ImportReport report = Import(kRetailSample, ImportFormat::kOnlineRetail);
  EXPECT_EQ(report.items_updated, 1u);  // created_at moved back to the first sale
  EXPECT_EQ(report.users_updated, 1u);
  auto stored_item = store_->GetItem("85123A");
  EXPECT_EQ(stored_item->title, "Heart holder (shop's own title)");
  EXPECT_EQ(stored_item->brand, "Acme");
  EXPECT_EQ(stored_item->created_ms, *ParseTimestampMillis("2010-12-01T08:26:00Z"));
  auto stored_user = store_->GetUser("17850");
  ASSERT_EQ(stored_user->consent.size(), 1u);
  EXPECT_TRUE(stored_user->consent[0].second);
  ASSERT_EQ(stored_user->attributes.size(), 1u);
  EXPECT_EQ(stored_user->attributes[0].first, "country");
}

TEST_F(ImporterTest, EventsWithoutIdsAreNotStoredTwiceByARepeatedImport) {
  const std::string jsonl =
      "{\"type\":\"view\",\"user_id\":\"u\",\"item_id\":\"a\",\"timestamp\":\"2023-05-01T10:00:00Z\"}\n"
      "{\"type\":\"view\",\"user_id\":\"u\",\"item_id\":\"a\",\"timestamp\":\"2023-05-01T10:00:00Z\"}\n";
  EXPECT_EQ(Import(jsonl, ImportFormat::kJsonl).accepted, 2u);  // two identical lines: two events
  ImportReport again = Import(jsonl, ImportFormat::kJsonl);
  EXPECT_EQ(again.accepted, 0u);
  EXPECT_EQ(again.duplicates, 2u);
  const std::string csv = "type,user_id,item_id,timestamp\nview,u,b,2023-05-01T10:00:00Z\n";
  EXPECT_EQ(Import(csv, ImportFormat::kCsv).accepted, 1u);
  EXPECT_EQ(Import(csv, ImportFormat::kCsv).duplicates, 1u);
  EXPECT_EQ(store_->Counts().events, 3u);
}

TEST_F(ImporterTest, CsvFromExcelWithByteOrderMark) {
  ImportReport report = Import("\xEF\xBB\xBFid,title\r\nsku-9,Mug\r\n", ImportFormat::kCsv, RecordKind::kItems);
  EXPECT_EQ(report.accepted, 1u);
  EXPECT_EQ(store_->GetItem("sku-9")->title, "Mug");
  ImportReport retail = Import(std::string("\xEF\xBB\xBF") + kRetailSample, ImportFormat::kOnlineRetail);
  EXPECT_EQ(retail.rows, 11u);
}

TEST_F(ImporterTest, OnlineRetailNeedsItsHeader) {
  Status status = ImportError("InvoiceNo,StockCode\n1,2\n", ImportFormat::kOnlineRetail);
  EXPECT_NE(status.message().find("input:1: missing column Description"), std::string::npos) << status.message();
}

// The full public file, when ../shared/data is present.
TEST_F(ImporterTest, FullOnlineRetailDataset) {
  const std::string path = std::string(VITRINA_SHARED_DATA_DIR) + "/online_retail/online_retail.csv.zst";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not present";
  auto source = OpenByteSource(path);
  ASSERT_TRUE(source.ok());
  ImportOptions options;
  options.format = ImportFormat::kOnlineRetail;
  SystemClock clock;
  auto report = ImportFile(store_.get(), source->get(), options, &clock, nullptr);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  // Figures from ../shared/data/README.md.
  EXPECT_EQ(report->rows, 541909u);
  EXPECT_EQ(report->rejected, 0u) << (report->errors.empty() ? "" : report->errors[0]);
  EXPECT_EQ(report->skipped_by_reason["non-product code POST (postage)"], 1256u);
  EXPECT_EQ(report->skipped_by_reason["non-product code DOT (dotcom postage)"], 710u);
  EXPECT_EQ(report->skipped_by_reason["non-product code M (manual adjustment)"], 571u);
  EXPECT_EQ(report->rows, report->accepted + report->skipped);
  EXPECT_GT(report->items_created, 3900u);
  EXPECT_LT(report->items_created, 4070u);
  EXPECT_GT(report->users_created, 4300u);
  EXPECT_LE(report->users_created, 4372u);
  EXPECT_GT(report->events_stored, 20000u);
}

}  // namespace
}  // namespace vitrina
