// Tensor::set_name (a plain truncating copy since graph builds name every node each token): the
// same results the snprintf version gave — empty for nullptr, truncated to kMaxName - 1 chars.
#include <gtest/gtest.h>

#include <string>

#include "core/tensor.h"

namespace hearth {
namespace {

TEST(DecodeOverheadNames, SetNameCopiesAndTruncates) {
    Tensor t;
    EXPECT_STREQ(t.set_name("ffn_out")->name, "ffn_out");
    EXPECT_STREQ(t.set_name(nullptr)->name, "");
    EXPECT_STREQ(t.set_name("")->name, "");
    const std::string longer(200, 'x');
    EXPECT_EQ(std::string(t.set_name(longer.c_str())->name), longer.substr(0, kMaxName - 1));
    EXPECT_STREQ(t.set_name("a")->name, "a");  // shorter after longer: terminated
    EXPECT_STREQ(t.format_name("%s-%d", "Qcur", 27)->name, "Qcur-27");
}

}  // namespace
}  // namespace hearth
