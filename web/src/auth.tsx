import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { login as apiLogin, logout as apiLogout, setSignedOutHandler, type LoginResult, type Me } from "./api";

interface AuthState {
  me: Me | null;
  /** Checks the password: a patient is signed in at once; staff get a second-factor challenge. */
  signIn: (email: string, password: string) => Promise<LoginResult>;
  /** Enters the portal once the second factor was accepted (and recovery codes were shown), or
   *  once a registration was confirmed from its e-mailed link (tokens already stored by api.ts). */
  completeSignIn: (me: Me) => void;
  signOut: () => Promise<void>;
  expired: boolean;
}

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null>(null);
  const [expired, setExpired] = useState(false);
  useEffect(() => {
    setSignedOutHandler(() => {
      setMe(null);
      setExpired(true);
    });
  }, []);
  const value = useMemo<AuthState>(
    () => ({
      me,
      expired,
      signIn: async (email, password) => {
        const result = await apiLogin(email, password);
        if (result.me) {
          setExpired(false);
          setMe(result.me);
        }
        return result;
      },
      completeSignIn: (m) => {
        setExpired(false);
        setMe(m);
      },
      signOut: async () => {
        await apiLogout();
        setMe(null);
      },
    }),
    [me, expired],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const ctx = useContext(AuthContext);
  if (!ctx) throw new Error("useAuth outside AuthProvider");
  return ctx;
}
