import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { login as apiLogin, logout as apiLogout, setSignedOutHandler, type Me } from "./api";

interface AuthState {
  me: Me | null;
  signIn: (email: string, password: string) => Promise<Me>;
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
        const m = await apiLogin(email, password);
        setExpired(false);
        setMe(m);
        return m;
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
