// salient/salient.hpp — everything in one include.
#pragma once

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/init.hpp"
#include "core/layer.hpp"
#include "core/random.hpp"
#include "core/tensor.hpp"
#include "layers/activation.hpp"
#include "layers/dense.hpp"
#include "model/sequential.hpp"
#include "train/loss.hpp"
#include "train/optimizer.hpp"
