#!/usr/bin/env python3
"""transformers' learning-rate schedules (warmup 10, 100 steps, peak 2e-5) at every step, for LearningRateScheduleTest.

    /tmp/pyref/bin/python tools/reference/lr_schedules.py > trainer-image/src/test/resources/lr_schedules.json
"""
import json
import sys

import torch
from transformers import (get_constant_schedule_with_warmup, get_cosine_schedule_with_warmup,
                          get_linear_schedule_with_warmup)

SCHEDULES = {"constant": lambda o: get_constant_schedule_with_warmup(o, 10),
             "linear": lambda o: get_linear_schedule_with_warmup(o, 10, 100),
             "cosine": lambda o: get_cosine_schedule_with_warmup(o, 10, 100)}

out = {}
for name, make in SCHEDULES.items():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=2e-5)
    schedule = make(opt)
    rates = []
    for step in range(101):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        schedule.step()
    out[name] = rates
json.dump(out, sys.stdout)
sys.stdout.write("\n")
