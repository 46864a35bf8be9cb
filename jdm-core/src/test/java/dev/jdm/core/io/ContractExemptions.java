package dev.jdm.core.io;

import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.InvocationInterceptor;
import org.junit.jupiter.api.extension.ReflectiveInvocationContext;

import java.lang.reflect.Method;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Runs a contract case that its fixture exempts ({@link BlockDeviceReadContract#exemptions()}) and
 * inverts the outcome: the case must still fail, as the written-down kernel behaviour says it does, and
 * passes the test by failing. A case that starts passing fails the test, so a fixed target cannot
 * keep a stale exemption. Nothing is skipped.
 */
final class ContractExemptions implements InvocationInterceptor {

    @Override
    public void interceptTestMethod(Invocation<Void> invocation, ReflectiveInvocationContext<Method> call,
                                    ExtensionContext context) throws Throwable {
        runInverted(invocation, call, context);
    }

    @Override
    public void interceptTestTemplateMethod(Invocation<Void> invocation, ReflectiveInvocationContext<Method> call,
                                            ExtensionContext context) throws Throwable {
        runInverted(invocation, call, context);
    }

    private static void runInverted(Invocation<Void> invocation, ReflectiveInvocationContext<Method> call,
                                    ExtensionContext context) throws Throwable {
        BlockDeviceReadContract fixture = (BlockDeviceReadContract) context.getRequiredTestInstance();
        String why = fixture.exemptions().get(call.getExecutable().getName());
        if (why == null) {
            invocation.proceed();
            return;
        }
        try {
            invocation.proceed();
        } catch (Throwable expected) {
            context.publishReportEntry("exempt", call.getExecutable().getName() + ": " + why + " (failed with: "
                    + expected.getMessage() + ")");
            return;
        }
        fail(call.getExecutable().getName() + " is exempted (" + why + ") but passes: remove the exemption");
    }
}
