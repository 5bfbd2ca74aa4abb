#include "server/pin_limits.h"

#include <gtest/gtest.h>

#include <limits>

namespace swarmkv {
namespace {

using json = nlohmann::json;

TEST(PinLimitsTest, TtlValidation) {
  EXPECT_EQ(*ValidatePinTtlMs(nullptr), kDefaultPinTtlMs);
  json ok_cases[] = {json(90), json(0.5), json("10m"), json("1h"), json("720h")};
  for (const json& t : ok_cases) EXPECT_TRUE(ValidatePinTtlMs(&t).ok()) << t.dump();
  EXPECT_EQ(*ValidatePinTtlMs(&ok_cases[0]), 90000);
  json bad_cases[] = {json(-1), json(0), json("-1"), json("0"), json("nan"), json("inf"), json("721h"),
                      json(1e300), json(std::numeric_limits<double>::quiet_NaN()), json("1d"), json(true),
                      json::array(), json("")};
  for (const json& t : bad_cases) {
    auto r = ValidatePinTtlMs(&t);
    ASSERT_FALSE(r.ok()) << t.dump();
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << t.dump();
    EXPECT_NE(r.status().message().find("ttl"), std::string::npos);
  }
}

TEST(PinLimitsTest, NameLength) {
  EXPECT_TRUE(ValidatePinName("p").ok());
  EXPECT_FALSE(ValidatePinName("").ok());
  EXPECT_FALSE(ValidatePinName(std::string(257, 'x')).ok());
}

TEST(PinLimitsTest, TenThousandPinsStopAtTheCap) {
  PinBudget b(1000, 1 << 20);
  int admitted = 0;
  for (int i = 0; i < 10000; ++i) {
    Status s = b.Admit("p" + std::to_string(i), 10, /*expires=*/1000000, /*now=*/0);
    if (s.ok()) {
      ++admitted;
    } else {
      EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
      EXPECT_NE(s.message().find("--max-pins"), std::string::npos);
    }
  }
  EXPECT_EQ(admitted, 1000);
  // Replacing a live pin is not a new one; an unpinned or expired one frees its place.
  EXPECT_TRUE(b.Admit("p5", 20, 1000000, 0).ok());
  b.Remove("p6");
  EXPECT_TRUE(b.Admit("new", 10, 1000000, 0).ok());
  EXPECT_FALSE(b.Admit("new2", 10, 1000000, 0).ok());
  EXPECT_EQ(b.live(2000000), 0u);
  EXPECT_TRUE(b.Admit("after-expiry", 10, 3000000, 2000000).ok());
}

TEST(PinLimitsTest, PinnedTokensAreCapped) {
  PinBudget b(100, 1000);
  EXPECT_TRUE(b.Admit("a", 600, 10, 0).ok());
  Status s = b.Admit("b", 500, 10, 0);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(b.Admit("a", 900, 10, 0).ok());  // a replacement counts its new size only
  EXPECT_TRUE(b.Admit("b", 100, 10, 0).ok());
}

}  // namespace
}  // namespace swarmkv
