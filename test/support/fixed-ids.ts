/** Well-formed ids and an account number for unit tests that need a few fixed ones (two of each kind). */
export const ACCOUNT = '123456789012';
export const [T1, T2] = ['t_01jx0000000000000000000001', 't_01jx0000000000000000000002'];
export const [U1, U2] = ['u_01jx0000000000000000000001', 'u_01jx0000000000000000000002'];
export const [L1, L2] = ['l_01jx0000000000000000000001', 'l_01jx0000000000000000000002'];
