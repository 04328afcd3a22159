import { describe, expect, it } from "vitest";
import { capacityBudgetSpecSchema } from "../apis/capacitybudget.ts";
import {
  activeWindow,
  addUsage,
  countsAgainst,
  emptyUsage,
  exceededLimits,
  limitsInForce,
  localTime,
  plannedLimits,
  WINDOW_LEAD_MS,
} from "./budgets.ts";

const peak = capacityBudgetSpecSchema.parse({
  limits: {
    costPerHour: 250,
    powerWatts: 24000,
    gpus: [
      { type: "nvidia-h100", max: 16 },
      { type: "nvidia-l40s", max: 8 },
    ],
  },
  timeZone: "Europe/Paris",
  windows: [
    {
      name: "peak",
      start: "17:00",
      end: "21:00",
      days: ["Mon", "Tue", "Wed", "Thu", "Fri"],
      limits: { powerWatts: 12000, gpus: [{ type: "nvidia-h100", max: 4 }] },
    },
    { name: "late", start: "23:00", end: "24:00", limits: { costPerHour: 100 } },
  ],
});

describe("local time", () => {
  it.each([
    // UTC instant, zone, day, time
    ["2025-01-06T12:00:00Z", "UTC", "Mon", "12:00"],
    ["2025-01-06T12:00:00Z", "Europe/Paris", "Mon", "13:00"], // CET, UTC+1
    ["2025-07-07T12:00:00Z", "Europe/Paris", "Mon", "14:00"], // CEST, UTC+2
    ["2025-01-06T02:30:00Z", "America/New_York", "Sun", "21:30"], // the day before
    ["2025-01-05T23:00:00Z", "Europe/Paris", "Mon", "00:00"], // midnight is 00:00, not 24:00
  ])("%s in %s is %s %s", (iso, tz, day, time) => {
    expect(localTime(Date.parse(iso), tz)).toEqual({ day, time });
  });
});

describe("windows", () => {
  it.each([
    ["2025-01-06T16:30:00Z", "peak"], // Monday 17:30 Paris (winter)
    ["2025-07-07T15:30:00Z", "peak"], // Monday 17:30 Paris (summer time)
    ["2025-01-06T15:59:00Z", undefined], // 16:59: before start
    ["2025-01-06T20:00:00Z", undefined], // 21:00: end is exclusive
    ["2025-01-11T16:30:00Z", undefined], // Saturday
    ["2025-01-11T22:30:00Z", "late"], // 23:30, every day, up to 24:00
  ])("%s: window %s", (iso, name) => {
    expect(activeWindow(peak, Date.parse(iso))?.name).toBe(name);
  });

  it("a window replaces only the limits it sets, GPU limits per type", () => {
    const { limits, window } = limitsInForce(peak, Date.parse("2025-01-06T16:30:00Z"));
    expect(window).toBe("peak");
    expect(limits.costPerHour).toBe(250);
    expect(limits.powerWatts).toBe(12000);
    expect(limits.gpus).toEqual([
      { type: "nvidia-h100", max: 4 },
      { type: "nvidia-l40s", max: 8 },
    ]);
  });

  it("outside windows the base limits hold", () => {
    expect(limitsInForce(peak, Date.parse("2025-01-06T10:00:00Z"))).toEqual({ limits: peak.limits });
  });

  it("the plan keeps to a window from WINDOW_LEAD_MS before its start, and to its limits until its end", () => {
    // 17:00 Paris is 16:00 UTC on Monday 6 January 2025.
    const start = Date.parse("2025-01-06T16:00:00Z");
    expect(plannedLimits(peak, start - WINDOW_LEAD_MS - 1_000)).toEqual({ limits: peak.limits });
    const ahead = plannedLimits(peak, start - WINDOW_LEAD_MS + 1_000);
    expect(ahead).toEqual(limitsInForce(peak, start));
    expect(ahead.window).toBe("peak");
    // In the window's last minutes its limits still hold: the base ones ahead are looser.
    const end = Date.parse("2025-01-06T20:00:00Z");
    expect(plannedLimits(peak, end - 60_000)).toEqual(limitsInForce(peak, end - 60_000));
    expect(plannedLimits(peak, end)).toEqual({ limits: peak.limits });
  });

  it("where a coming window is looser on a limit, the tighter one now holds", () => {
    const spec = capacityBudgetSpecSchema.parse({
      limits: { costPerHour: 100, gpus: [{ type: "nvidia-l4", max: 4 }] },
      windows: [
        { name: "night", start: "22:00", end: "24:00", limits: { costPerHour: 300, powerWatts: 500 } },
      ],
    });
    const { limits, window } = plannedLimits(spec, Date.parse("2025-01-06T21:58:00Z"));
    expect(window).toBe("night");
    expect(limits).toEqual({ costPerHour: 100, powerWatts: 500, gpus: [{ type: "nvidia-l4", max: 4 }] });
  });
});

describe("usage", () => {
  const h100 = { costPerHour: 12.5, powerWatts: 700, gpus: 1, gpuType: "nvidia-h100" };
  const l40s2 = { costPerHour: 5, powerWatts: 700, gpus: 2, gpuType: "nvidia-l40s" };

  it("adds replicas' cost, power and GPUs", () => {
    const u = emptyUsage();
    addUsage(u, h100, 4);
    addUsage(u, l40s2, 3);
    expect(u).toEqual({ costPerHour: 65, powerWatts: 4900, gpus: { "nvidia-h100": 4, "nvidia-l40s": 6 } });
  });

  it.each([
    [{ costPerHour: 65 }, []],
    [{ costPerHour: 64.99 }, ["costPerHour"]],
    [{ powerWatts: 4000 }, ["powerWatts"]],
    [{ gpus: [{ type: "nvidia-l40s", max: 5 }] }, ["gpus/nvidia-l40s"]],
    [{ gpus: [{ type: "nvidia-a100", max: 0 }] }, []],
  ])("limits %j exceeded: %j", (limits, want) => {
    const u = emptyUsage();
    addUsage(u, h100, 4);
    addUsage(u, l40s2, 3);
    expect(exceededLimits(u, limits)).toEqual(want);
  });

  it("a replica counts against a GPU limit of its type only", () => {
    expect(countsAgainst(h100, "gpus/nvidia-h100")).toBe(true);
    expect(countsAgainst(h100, "gpus/nvidia-l40s")).toBe(false);
    expect(countsAgainst({ ...h100, costPerHour: 0 }, "costPerHour")).toBe(false);
  });
});
