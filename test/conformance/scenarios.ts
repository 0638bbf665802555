/** Every conformance scenario, in the order they run. */
import type { Scenario } from "./scenario.js";
import { containerScenarios } from "./scenarios/container.js";
import { deviceScenarios } from "./scenarios/device.js";
import { errorScenarios } from "./scenarios/errors.js";
import { eduDriverScenarios, eduScenarios } from "./scenarios/edu.js";
import { groupScenarios } from "./scenarios/group.js";
import { irqScenarios } from "./scenarios/irq.js";
import { mapScenarios } from "./scenarios/map.js";
import { unmapScenarios } from "./scenarios/unmap.js";
import { viabilityScenarios } from "./scenarios/viability.js";

export const scenarios: readonly Scenario[] = [
  ...containerScenarios,
  ...groupScenarios,
  ...viabilityScenarios,
  ...mapScenarios,
  ...unmapScenarios,
  ...deviceScenarios,
  ...irqScenarios,
  ...eduScenarios,
  ...eduDriverScenarios,
  ...errorScenarios,
];
