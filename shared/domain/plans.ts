/** Tenant plans; the plan sets audit retention (free 30, team 90, enterprise 365 days). */
export const PLANS = ['free', 'team', 'enterprise'] as const;
export type Plan = (typeof PLANS)[number];
