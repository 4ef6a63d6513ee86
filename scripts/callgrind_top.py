"""Self cost per function from a callgrind output file (callgrind_annotate 3.19 puts every cost
of a binary without line tables under `clone`). Usage: callgrind_top.py FILE [N] [TURNS]"""
import re
import sys
from collections import defaultdict

path, top = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 25
turns = int(sys.argv[3]) if len(sys.argv) > 3 else 1
names, cost, function, skip_next = {}, defaultdict(int), None, False
for line in open(path, errors="replace"):
    if line.startswith(("fn=", "cfn=")):
        match = re.match(r"c?fn=\((\d+)\)(?: (.*))?", line.rstrip("\n"))
        if match.group(2):
            names[match.group(1)] = match.group(2)
        if line.startswith("fn="):
            function = match.group(1)
    elif line.startswith("calls="):
        skip_next = True  # the next cost line is the call's inclusive cost
    elif line[:1].isdigit() or line[:1] in "+-*":
        if skip_next:
            skip_next = False
        elif function is not None:
            fields = line.split()
            if len(fields) > 1:
                cost[function] += int(fields[1])
total = sum(cost.values())
print(f"{total:,} instructions in all, {total // turns:,} per turn")
for function, value in sorted(cost.items(), key=lambda item: -item[1])[:top]:
    print(f"{value / total * 100:5.1f}%  {value // turns:>9,}/turn  {names.get(function, function)}")
